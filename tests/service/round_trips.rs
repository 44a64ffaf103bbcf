//! Round trips to PostgreSQL per command, counted on the wire.
//!
//! A proxy on loopback sits between the store's pool and the server and reads the client's
//! side of the PostgreSQL protocol: every time the server answers, the client's messages
//! since its last answer were one round trip. A round trip whose messages are a lone `Sync`
//! is sqlx's liveness ping (on taking a connection from the pool, and on giving it back),
//! counted apart from the round trips that run statements: they are what sqlx's pool costs.
//!
//! Run with `--nocapture` to see the table; `docs/PERFORMANCE.md` says how to read it.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use orgroster::{
    Actor, DynStore, OrganizationId, PostgresStore, Role, Roster, sqlx::postgres::PgPoolOptions,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Mutex,
};

use crate::{
    fixture::{actor, email, licensed_organization, newcomer, team_name},
    pg,
};

/// What the proxy has seen since it was last reset.
#[derive(Debug, Default)]
struct Counts {
    statements: AtomicU64,
    pings: AtomicU64,
}

impl Counts {
    fn take(&self) -> (u64, u64) {
        (
            self.statements.swap(0, Ordering::SeqCst),
            self.pings.swap(0, Ordering::SeqCst),
        )
    }
}

/// What the client has sent since the server last answered.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Pending {
    #[default]
    Nothing,
    /// Only `Sync` messages: a ping.
    Ping,
    /// Anything else: statements.
    Statements,
}

/// The client side of one connection, parsed into messages.
#[derive(Debug, Default)]
struct ClientStream {
    buffer: Vec<u8>,
    started: bool,
    pending: Pending,
}

impl ClientStream {
    /// Takes in bytes from the client; notes what kind of round trip they start.
    fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
        loop {
            if !self.started {
                // Untyped: an SSL request (8 bytes, code 80877103), then the startup message.
                let Some(len) = self.untyped_len() else {
                    return;
                };
                if self.buffer.len() < len {
                    return;
                }
                let ssl = len == 8 && self.buffer[4..8] == 80_877_103_u32.to_be_bytes();
                self.buffer.drain(..len);
                if !ssl {
                    self.started = true;
                }
                continue;
            }
            if self.buffer.len() < 5 {
                return;
            }
            let kind = self.buffer[0];
            let len = u32::from_be_bytes(self.buffer[1..5].try_into().expect("4 bytes")) as usize;
            if self.buffer.len() < 1 + len {
                return;
            }
            self.buffer.drain(..=len);
            self.pending = match (kind, self.pending) {
                (b'S', Pending::Nothing) => Pending::Ping,
                (b'S', other) => other,
                _ => Pending::Statements,
            };
        }
    }

    fn untyped_len(&self) -> Option<usize> {
        let head: [u8; 4] = self.buffer.get(..4)?.try_into().ok()?;
        Some(u32::from_be_bytes(head) as usize)
    }
}

/// Forwards one connection both ways, counting round trips.
async fn relay(client: TcpStream, server: SocketAddr, counts: Arc<Counts>) {
    let Ok(upstream) = TcpStream::connect(server).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = upstream.into_split();
    let parsed = Arc::new(Mutex::new(ClientStream::default()));
    let outbound = {
        let parsed = Arc::clone(&parsed);
        tokio::spawn(async move {
            let mut buf = vec![0_u8; 64 * 1024];
            loop {
                match client_read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        // Parsed before it is forwarded: the answer cannot overtake it.
                        parsed.lock().await.feed(&buf[..n]);
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = server_write.shutdown().await;
        })
    };
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        match server_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                {
                    let mut parsed = parsed.lock().await;
                    match std::mem::take(&mut parsed.pending) {
                        Pending::Statements => counts.statements.fetch_add(1, Ordering::SeqCst),
                        Pending::Ping => counts.pings.fetch_add(1, Ordering::SeqCst),
                        Pending::Nothing => 0,
                    };
                }
                if client_write.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    outbound.abort();
}

/// A counting proxy to `server` on a free loopback port.
async fn proxy(server: SocketAddr) -> (u16, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    let counts = Arc::new(Counts::default());
    tokio::spawn({
        let counts = Arc::clone(&counts);
        async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, server, Arc::clone(&counts)));
            }
        }
    });
    (port, counts)
}

/// One measured command: its name and (statement round trips, pings).
type Row = (&'static str, (u64, u64));

/// Runs every command once to prepare its statements, then once more, counted.
async fn measure(
    roster: &Roster,
    counts: &Counts,
    org: OrganizationId,
    founder: &Actor,
) -> Vec<Row> {
    // Let the pool's release pings of earlier commands finish outside the window.
    async fn settle(counts: &Counts) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        counts.take();
    }
    let team = roster
        .create_team(founder, org, team_name("Counted"))
        .await
        .expect("a team")
        .id;
    let mut rows = Vec::new();
    for round in 0..2 {
        let counted = round == 1;
        let note = |name: &'static str, rows: &mut Vec<Row>| {
            let taken = counts.take();
            if counted {
                rows.push((name, taken));
            }
        };
        let learner = actor(&format!("learner{round}"));
        settle(counts).await;
        let invited = roster
            .invite_member(founder, org, learner.email.clone(), Role::Member, None)
            .await
            .expect("invite");
        note("invite_member (no team)", &mut rows);
        settle(counts).await;
        roster
            .accept_invitation(&learner, &invited.token.expose(), newcomer("Counted"))
            .await
            .expect("accept");
        note("accept_invitation (no team)", &mut rows);
        let teamed = email(&format!("teamed{round}@example.com"));
        settle(counts).await;
        let in_team = roster
            .invite_member(founder, org, teamed.clone(), Role::Member, Some(team))
            .await
            .expect("invite into a team");
        note("invite_member (into a team)", &mut rows);
        let joiner = Actor::new(orgroster::UserId::new(), teamed);
        settle(counts).await;
        roster
            .accept_invitation(&joiner, &in_team.token.expose(), newcomer("Joiner"))
            .await
            .expect("accept into a team");
        note("accept_invitation (into a team)", &mut rows);
        let declined = roster
            .invite_member(
                founder,
                org,
                email(&format!("no{round}@example.com")),
                Role::Member,
                None,
            )
            .await
            .expect("invite to decline");
        settle(counts).await;
        roster
            .decline_invitation(&declined.token.expose())
            .await
            .expect("decline");
        note("decline_invitation", &mut rows);
        let revoked = roster
            .invite_member(
                founder,
                org,
                email(&format!("gone{round}@example.com")),
                Role::Member,
                None,
            )
            .await
            .expect("invite to revoke");
        settle(counts).await;
        roster
            .resend_invitation(founder, org, revoked.invitation.id)
            .await
            .expect("resend");
        note("resend_invitation", &mut rows);
        settle(counts).await;
        roster
            .revoke_invitation(founder, org, revoked.invitation.id)
            .await
            .expect("revoke");
        note("revoke_invitation", &mut rows);
        let paste: String = (0..100)
            .map(|i| format!("bulk{round}-{i}@example.com\n"))
            .collect();
        settle(counts).await;
        roster
            .invite_members(founder, org, &paste, Role::Member, None)
            .await
            .expect("bulk invite");
        note("invite_members (100 addresses)", &mut rows);
        settle(counts).await;
        roster
            .members(founder, org, Default::default(), Default::default())
            .await
            .expect("a page of members");
        note("members (a page)", &mut rows);
    }
    rows
}

/// A roster on `schema` through the proxy, with a pool of one connection (so that every
/// statement is prepared on the connection that runs it again) that pings before handing
/// out a connection when `ping_on_acquire`.
async fn counted_roster(url: &str, schema: &str, port: u16, ping_on_acquire: bool) -> Roster {
    let options = pg::options(url, schema).host("127.0.0.1").port(port);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .test_before_acquire(ping_on_acquire)
        .connect_with(options)
        .await
        .expect("PostgreSQL through the proxy");
    let store: Arc<DynStore> = Arc::new(PostgresStore::new(pool));
    Roster::builder(
        store,
        orgroster::RecordingMailer::new(),
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .build()
}

/// Round trips per command, with sqlx's default pool (a ping before every use of a
/// connection) and with that ping turned off. A command reads once, then commits: in one
/// statement when its steps are independent, else in a transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_per_command() {
    let Some(url) = pg::url() else {
        eprintln!("skipped: set {} to run it", pg::URL_VAR);
        return;
    };
    let schema = pg::fresh_schema(&url).await;
    let server = {
        let options = pg::options(&url, &schema);
        let host = options.get_host().to_owned();
        let host = if host == "localhost" {
            "127.0.0.1".to_owned()
        } else {
            host
        };
        let addr: std::net::IpAddr = host.parse().expect("the test server on an IP address");
        SocketAddr::new(addr, options.get_port())
    };
    let (port, counts) = proxy(server).await;
    let mut tables = Vec::new();
    for ping_on_acquire in [true, false] {
        let roster = counted_roster(&url, &schema, port, ping_on_acquire).await;
        let founder = actor("founder");
        let org = licensed_organization(&roster, &founder, "Counted Round Trips", None).await;
        tables.push((
            ping_on_acquire,
            measure(&roster, &counts, org, &founder).await,
        ));
    }
    println!("round trips per command (statements + pings), PostgreSQL, statements prepared:");
    println!(
        "{:<34} {:>22} {:>22}",
        "command", "ping on acquire", "no ping on acquire"
    );
    for (i, (name, (s, p))) in tables[0].1.iter().enumerate() {
        let (_, (s2, p2)) = tables[1].1[i];
        println!(
            "{name:<34} {:>22} {:>22}",
            format!("{s} + {p}"),
            format!("{s2} + {p2}")
        );
    }
    for (_, rows) in &tables {
        // One read, then the commit. An invitation (it checks the organization's version
        // and inserts the invitation, its event and its mail) and an acceptance without a
        // team (it checks the organization, updates the invitation, withdraws its queued
        // mail, inserts the member and its events) read nothing the commit writes: one
        // statement. Into a team, opening the stint reads the new member's row: a
        // transaction, `BEGIN`, one statement per step (7), `COMMIT`. The read brings the
        // team: none is read apart.
        for (command, most) in [
            ("invite_member (no team)", 1 + 1),
            ("accept_invitation (no team)", 1 + 1),
            ("accept_invitation (into a team)", 1 + 2 + 7),
        ] {
            let (_, (statements, _)) = rows
                .iter()
                .find(|(name, _)| *name == command)
                .expect("measured");
            assert!(
                *statements <= most,
                "{command} took {statements} round trips of statements"
            );
        }
        for (name, (statements, _)) in rows {
            assert!(
                *statements >= 1,
                "{name} was not counted: is the proxy in the path?"
            );
        }
    }
    pg::drop_schema(&url, &schema).await;
}
