//! Setting orgroster up on PostgreSQL, the way several service instances share one database.
//!
//! ```sh
//! cargo run --example postgres --features postgres -- postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! Every instance of your service does the same: connect, migrate (safe to run from all of
//! them at once: an advisory lock serializes it), build one `Roster`, and run
//! `Roster::deliver_mail` on a timer (the outbox lease keeps instances from sending the same
//! mail twice at once).

use orgroster::{
    Actor, Capabilities, Capability, EmailAddress, LicenseKind, LinkKey, PostgresStore, Profile,
    RecordingMailer, Role, Roster, RosterConfig, UserId,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());

    // 1. Connect and migrate. orgroster's tables carry the `orgroster_` prefix and its
    //    migrations live in `_orgroster_migrations`, apart from your own.
    let store = PostgresStore::connect(&url).await?;
    store.migrate().await?;

    // 2. One Roster per process; clones are cheap and share the pool.
    let mailer = RecordingMailer::new(); // your SMTP or HTTP mailer in production
    //    Invitation links are derived from a key the host keeps outside the database (its
    //    secret store, or an environment variable filled from one): a copy of the database
    //    opens no link. Every instance sharing the database uses the same key.
    let link_key = match std::env::var("ORGROSTER_LINK_KEY") {
        Ok(text) => LinkKey::from_base64(&text)?,
        Err(_) => LinkKey::generate()?, // a demo: links die with the process
    };
    let roster = Roster::builder(store, mailer.clone(), link_key)
        .config(RosterConfig::default())
        .build();

    // 3. Use it.
    let admin = Actor::new(UserId::new(), EmailAddress::parse("admin@example.com")?);
    let org = roster
        .create_organization(
            &admin,
            "Replicated Ltd".parse()?,
            Profile::parse("Ada", "Admin")?,
        )
        .await?
        .organization
        .id;
    roster.add_license(org, LicenseKind::PayPerUse).await?;
    let caps = Capabilities::default().with(Capability::CoursecloudLegacy);
    roster.set_capabilities(org, caps).await?;
    let report = roster
        .invite_members(
            &admin,
            org,
            "a@example.com, b@example.com",
            Role::Member,
            None,
        )
        .await?;
    println!(
        "organization {org}: {} invitations committed",
        report.invited.len()
    );

    // 4. Delivery: in a service, spawn this on an interval in every instance.
    let delivered = roster.deliver_mail(100).await?;
    println!(
        "delivered {} mails ({} to retry)",
        delivered.sent, delivered.retried
    );
    Ok(())
}
