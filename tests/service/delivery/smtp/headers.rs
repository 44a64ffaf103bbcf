//! Header injection over real SMTP is impossible by construction: subjects and names cannot
//! hold a line break or a control character, a sender setting with one is refused, a body's
//! lines stay body text, a host's template cannot smuggle a header through, and text outside
//! ASCII reaches headers only as encoded words (spec: ERR-3, MSG-2).

use orgroster::{
    AcceptOptions, Actor, Audience, DefaultTemplates, EmailAddress, MailSettings, MailTemplates,
    Message, OrganizationName, OutgoingEmail, Page, PersonName, Profile, SmtpConfig,
    SmtpConfigError, SmtpMailer, Subject, TeamName, UserId,
};

use super::{email, mailer, memory, office, office_with};
use crate::smtp_server::SmtpServer;

#[test]
fn subjects_and_names_with_line_breaks_or_control_characters_cannot_be_constructed() {
    // spec: ERR-3 — header injection is impossible by construction.
    let hostile = [
        "Hello\r\nBcc: intruder@evil.example",
        "Hello\nBcc: intruder@evil.example",
        "Hello\rBcc: intruder@evil.example",
        "Hello\u{0}world",
        "Hello\u{1b}[2J",
        "Hello\u{7}",
        "Hello\tworld",
        "Hello\u{85}world",
        "Hello\u{2028}Bcc: intruder@evil.example",
    ];
    for text in hostile {
        assert!(Subject::parse(text).is_err(), "Subject {text:?}");
        assert!(PersonName::parse(text).is_err(), "PersonName {text:?}");
        assert!(
            OrganizationName::parse(text).is_err(),
            "OrganizationName {text:?}"
        );
        assert!(TeamName::parse(text).is_err(), "TeamName {text:?}");
        assert!(Profile::parse("Ann", text).is_err(), "Profile {text:?}");
        assert!(text.parse::<Subject>().is_err());
    }
    assert!(EmailAddress::parse("ann@mail.example\r\nBcc: intruder@evil.example").is_err());
    assert!(EmailAddress::parse("ann@mail.example>\r\nRCPT TO:<x@evil.example").is_err());
}

#[test]
fn a_sender_setting_with_a_line_break_is_refused() {
    // spec: ERR-3
    let config = SmtpConfig::new(
        "127.0.0.1",
        25,
        "Evil\r\nBcc: intruder@evil.example <no-reply@learning.example>",
    );
    // Refused before any runtime or connection is needed.
    assert!(matches!(
        SmtpMailer::new(config),
        Err(SmtpConfigError::InvalidFrom { .. })
    ));
}

#[tokio::test]
async fn a_body_holding_an_end_of_data_line_and_header_lines_arrives_whole_as_body_text() {
    // spec: ERR-3, MSG-2 — dot-stuffed on the wire, and no line of it becomes a header.
    let server = SmtpServer::start().await;
    let office = office(memory(), mailer(&server)).await;
    let token = office.invite("bea").await;
    // Sent before she accepts: accepting withdraws an invitation's unsent mail (INV-13).
    let invited = office.deliver(10).await;
    let bea = Actor::new(UserId::new(), email("bea@mail.example"));
    let options = AcceptOptions::new(Profile::parse("Bea", "Member").unwrap());
    office
        .roster
        .accept_invitation(&bea, &token, options)
        .await
        .unwrap();
    let body = "First line\r\n.\r\nBcc: intruder@evil.example\r\n.\r\n\
                MAIL FROM:<intruder@evil.example>\r\nRCPT TO:<intruder@evil.example>\r\n\
                ..\r\nLast line";
    let queued = office
        .roster
        .send_message(
            &office.admin,
            office.org,
            Audience::Everyone,
            "Quarterly update".parse().unwrap(),
            Message::parse(body).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(queued, 1);
    let report = office.deliver(10).await;
    assert_eq!(
        (invited.sent, report.sent, report.failed),
        (1, 1, 0),
        "the invitation, then the message"
    );

    let received = server.received();
    assert_eq!(received.len(), 2, "one message each, none split in two");
    assert!(received.iter().all(|r| r.to == ["bea@mail.example"]));
    let message = received
        .iter()
        .find(|r| r.mail().decoded_header("Subject").as_deref() == Some("Quarterly update"))
        .expect("the message arrived");
    let mail = message.mail();
    assert!(mail.header("Bcc").is_none(), "{:?}", mail.headers);
    assert_eq!(mail.all("To"), ["bea@mail.example"]);
    assert!(
        message.wire.contains("\r\n..\r\n"),
        "the lone dot is stuffed on the wire"
    );
    let text = mail.parts()[0].text();
    let expected = "First line\r\n.\r\nBcc: intruder@evil.example\r\n.\r\n\
                    MAIL FROM:<intruder@evil.example>\r\nRCPT TO:<intruder@evil.example>\r\n\
                    ..\r\nLast line\r\n";
    assert!(text.contains(expected), "{text:?}");
    assert!(
        text.contains("Maya Founder wrote to everyone at Northwind Learning."),
        "the data did not end early: {text:?}"
    );
    let html = mail.parts()[1].text();
    assert!(
        html.contains("MAIL FROM:&lt;intruder@evil.example&gt;"),
        "{html}"
    );
}

/// A host's templates that put line breaks and control characters where headers are made.
#[derive(Debug)]
struct HostileTemplates;

impl MailTemplates for HostileTemplates {
    fn render(
        &self,
        message: &orgroster::OutboxMessage,
        link: Option<&orgroster::InvitationToken>,
        settings: &MailSettings,
    ) -> OutgoingEmail {
        let mut email = DefaultTemplates.render(message, link, settings);
        email.subject =
            "Hello\r\nBcc: intruder@evil.example\r\n\r\nfake body \u{1b}[2J\u{7}".into();
        email.message_id = format!("{}\r\nBcc: intruder@evil.example", email.message_id);
        email
    }
}

#[tokio::test]
async fn a_host_template_cannot_smuggle_a_header_or_control_character_through_the_subject() {
    // spec: ERR-3, MSG-2 — what a template returns is checked again before it reaches a
    // header: refused, recorded as failed, never passed through.
    let server = SmtpServer::start().await;
    let office = office_with(memory(), mailer(&server), HostileTemplates).await;
    office.invite("cy").await;
    let report = office.deliver(10).await;
    assert_eq!((report.sent, report.retried, report.failed), (0, 0, 1));
    assert!(server.received().is_empty());
    let failed = office
        .roster
        .failed_mail(&office.admin, office.org, Page::first(10))
        .await
        .unwrap()
        .items;
    let reason = failed[0].last_error.clone().unwrap_or_default();
    assert!(reason.contains("control character"), "{reason}");
}

#[tokio::test]
async fn a_subject_in_another_script_is_encoded_in_the_header_and_reads_back_unchanged() {
    // spec: ERR-3 — text outside ASCII reaches headers only as RFC 2047 encoded words.
    let server = SmtpServer::start().await;
    let office = office(memory(), mailer(&server)).await;
    let subject = "Résumé ☕ — cours « Ζήτα » 日本語";
    let body = "Voilà: ünïcödé body ✓";
    office
        .roster
        .notify_administrators(
            office.org,
            subject.parse().unwrap(),
            Message::parse(body).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(office.deliver(10).await.sent, 1);
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert!(
        received[0].data.is_ascii(),
        "everything is transfer-encoded"
    );
    let mail = received[0].mail();
    let raw = mail.header("Subject").unwrap();
    assert!(raw.contains("=?utf-8?"), "{raw}");
    assert_eq!(
        mail.decoded_header("Subject").unwrap(),
        format!("[Northwind Learning] {subject}")
    );
    let parts = mail.parts();
    assert!(parts[0].text().contains(body), "{:?}", parts[0].text());
    assert!(parts[1].text().contains(body), "{:?}", parts[1].text());
}
