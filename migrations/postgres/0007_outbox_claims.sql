-- INV-6: the outbox holds no invitation token. A link's token is derived from a key the host
-- keeps outside the database, and derived again when the email is rendered, so nothing
-- written from here on holds one. On a database that held tokens in `secret`, old row
-- versions may keep them until `VACUUM`; and the invitation mail queued then can no longer
-- be rendered (delivery gives it up, saying to resend the invitation).
ALTER TABLE orgroster_outbox DROP COLUMN secret;

-- INV-13: an invitation's queued, unsent mail is withdrawn in the commit that accepts,
-- declines, revokes or resends it; this column and its index find that mail.
ALTER TABLE orgroster_outbox ADD COLUMN invitation_id UUID;
UPDATE orgroster_outbox
   SET invitation_id = (content::jsonb ->> 'invitation')::uuid
 WHERE content::jsonb ->> 'type' = 'invitation';
CREATE INDEX orgroster_outbox_invitation ON orgroster_outbox (invitation_id)
    WHERE status = 'pending' AND invitation_id IS NOT NULL;

-- MSG-3: the claim that holds a row. Only that claim can mark it sent, put it back or give
-- it up, so a worker whose lease ran out cannot settle a row another worker now holds.
ALTER TABLE orgroster_outbox ADD COLUMN claim UUID;
