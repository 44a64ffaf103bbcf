-- INV-6: the outbox no longer holds an invitation's token until delivery. A link's token is
-- derived from a key the host keeps outside the database and derived again when the email
-- is rendered, so no column here ever holds one.
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
