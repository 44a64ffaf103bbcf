//! A small SMTP server for the tests and benches: plain RFC 5321 on `127.0.0.1`, enough for
//! lettre (greeting, `EHLO`/`HELO`, `MAIL`, `RCPT`, `DATA`, `RSET`, `NOOP`, `QUIT`; no `AUTH`,
//! no `STARTTLS`). It keeps every message it accepts (envelope and data, dot-stuffing
//! removed) and counts connections, and it can be told to refuse with a 4xx or 5xx reply at
//! `RCPT` or at the end of `DATA`, to answer slowly, to go down and to come back on the same
//! port.
//!
//! Include it with `#[path = "../support/smtp_server.rs"] mod smtp_server;`. Every task it
//! starts ends when its [`SmtpServer`] is dropped (or with the runtime): nothing outlives the
//! test. Lines, messages and idle connections are bounded.
//!
//! [`Mail`] parses what arrived: headers (unfolded, RFC 2047 words decoded on request),
//! multipart bodies, and the `7bit`, `quoted-printable` and `base64` transfer encodings.

// Each test binary and the bench use a different part of it.
#![allow(dead_code)]

use std::{
    io,
    net::SocketAddr,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use base64::Engine as _;
use tokio::{
    io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::Notify,
    task::{JoinHandle, JoinSet},
};

/// The longest command line accepted, in bytes (RFC 5321 allows 512; lettre stays far below).
const MAX_LINE: u64 = 4096;
/// The largest message accepted, in bytes.
const MAX_MESSAGE: usize = 4 * 1024 * 1024;
/// A connection silent this long is closed.
const IDLE: Duration = Duration::from_secs(60);

/// Where a refusal is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// In reply to `RCPT TO`.
    Rcpt,
    /// In reply to the end of the message data (`<CRLF>.<CRLF>`).
    Data,
}

/// How many transactions a refusal applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Times {
    /// The next `n` transactions reaching its stage.
    Next(usize),
    /// Every one, until [`SmtpServer::accept_everything`].
    Always,
}

#[derive(Debug, Clone, Copy)]
struct Refusal {
    stage: Stage,
    code: u16,
    times: Times,
}

/// One accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    /// Which connection brought it (1 for the first the server accepted).
    pub(crate) connection: usize,
    /// The envelope sender (`MAIL FROM`), without angle brackets.
    pub(crate) from: String,
    /// The envelope recipients (`RCPT TO`), without angle brackets.
    pub(crate) to: Vec<String>,
    /// The message as sent (headers and body), dot-stuffing removed.
    pub(crate) data: String,
    /// The bytes of the `DATA` phase as they came over the wire, dot-stuffed.
    pub(crate) wire: String,
}

impl Received {
    /// The message, parsed.
    pub(crate) fn mail(&self) -> Mail {
        Mail::parse(&self.data)
    }

    /// Its `Message-ID` header.
    pub(crate) fn message_id(&self) -> String {
        self.mail().header("Message-ID").unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct State {
    received: Vec<Received>,
    refusals: Vec<Refusal>,
    refused: Vec<(Stage, u16)>,
    reply_delay: Duration,
    /// Replies to this message (counted from 1) and to every one after it wait for
    /// [`SmtpServer::release`].
    held_from: Option<usize>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    connections: AtomicUsize,
    /// Notified whenever `state` changes in a way a waiter may be waiting for.
    changed: Notify,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The reply to give at `stage`, when a refusal applies; counts it down.
    fn refusal(&self, stage: Stage) -> Option<u16> {
        let mut state = self.state();
        let at = state.refusals.iter().position(|r| r.stage == stage)?;
        let code = state.refusals[at].code;
        match &mut state.refusals[at].times {
            Times::Always => {}
            Times::Next(n) => {
                *n -= 1;
                if *n == 0 {
                    state.refusals.remove(at);
                }
            }
        }
        state.refused.push((stage, code));
        drop(state);
        self.changed.notify_waiters();
        Some(code)
    }

    /// Waits until `done` holds of the state, checking again at each change.
    async fn until(&self, done: impl Fn(&State) -> bool) {
        loop {
            let changed = self.changed.notified();
            if done(&self.state()) {
                return;
            }
            changed.await;
        }
    }
}

/// A running (or stopped) test SMTP server on `127.0.0.1`. Dropping it stops it.
#[derive(Debug)]
pub(crate) struct SmtpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// The accepting task; it owns the listener and every connection's task.
    task: Mutex<Option<JoinHandle<()>>>,
}

impl SmtpServer {
    /// A server listening on a free port.
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("the listener's address");
        let server = Self {
            addr,
            shared: Arc::default(),
            task: Mutex::new(None),
        };
        server.serve(listener);
        server
    }

    /// A server that is down: its port was free a moment ago and nothing listens on it now
    /// (connections are refused) until [`SmtpServer::restart`].
    pub(crate) async fn down() -> Self {
        let server = Self::start().await;
        server.stop();
        server
    }

    /// The port it listens on (the same across stops and restarts).
    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops listening and drops every open connection, as a crashed server would.
    pub(crate) fn stop(&self) {
        if let Some(task) = self.task().take() {
            task.abort();
        }
    }

    /// Listens again on the same port (after [`SmtpServer::stop`] or [`SmtpServer::down`]).
    pub(crate) async fn restart(&self) {
        self.stop();
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                // The aborted listener may take a moment to be closed.
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => panic!("rebinding {}: {e}", self.addr),
            }
        };
        self.serve(listener);
    }

    /// Every message accepted so far, in order.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.shared.state().received.clone()
    }

    /// Every message accepted so far, in order, forgetting them.
    pub(crate) fn take_received(&self) -> Vec<Received> {
        std::mem::take(&mut self.shared.state().received)
    }

    /// The `Message-ID`s of every message accepted so far, in order.
    pub(crate) fn message_ids(&self) -> Vec<String> {
        self.received().iter().map(Received::message_id).collect()
    }

    /// The refusals given so far: where, and with which code.
    pub(crate) fn refused(&self) -> Vec<(Stage, u16)> {
        self.shared.state().refused.clone()
    }

    /// How many connections were accepted since the server was made.
    pub(crate) fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Replies `code` at `stage` for `times` transactions (refusals queue up in order).
    pub(crate) fn refuse(&self, stage: Stage, code: u16, times: Times) {
        assert!(
            (400..600).contains(&code),
            "a refusal is a 4xx or 5xx reply"
        );
        if times == Times::Next(0) {
            return;
        }
        self.shared
            .state()
            .refusals
            .push(Refusal { stage, code, times });
    }

    /// Forgets every refusal not yet given.
    pub(crate) fn accept_everything(&self) {
        self.shared.state().refusals.clear();
    }

    /// Waits this long before answering the end of each message's data (the message counts
    /// as received before the wait).
    pub(crate) fn set_reply_delay(&self, delay: Duration) {
        self.shared.state().reply_delay = delay;
    }

    /// Holds the reply to the `n`th message accepted (counted from 1), and to every one after
    /// it, until [`SmtpServer::release`]: the client waits mid-batch for as long as a test
    /// needs, however slow the machine. The messages count as received meanwhile.
    pub(crate) fn hold_replies_from(&self, n: usize) {
        self.shared.state().held_from = Some(n);
    }

    /// Lets the held replies go, and holds no more.
    pub(crate) fn release(&self) {
        self.shared.state().held_from = None;
        self.shared.changed.notify_waiters();
    }

    /// Waits until at least `n` messages were accepted; false after `timeout`.
    pub(crate) async fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let wait = self.shared.until(|state| state.received.len() >= n);
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    fn task(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.task.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn serve(&self, listener: TcpListener) {
        let shared = Arc::clone(&self.shared);
        let task = tokio::spawn(async move {
            // Dropped with this task, and with it every connection still open.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let id = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
                        let shared = Arc::clone(&shared);
                        connections.spawn(async move {
                            let _ = session(stream, &shared, id).await;
                        });
                    }
                    Some(_) = connections.join_next() => {}
                }
            }
        });
        *self.task() = Some(task);
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads one line (up to and including LF), at most [`MAX_LINE`] bytes; `Ok(false)` at the
/// end of the stream.
async fn read_line<R: AsyncRead + AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> io::Result<bool> {
    line.clear();
    let read = tokio::time::timeout(IDLE, reader.take(MAX_LINE).read_until(b'\n', line))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "idle connection"))??;
    if read == 0 {
        return Ok(false);
    }
    if !line.ends_with(b"\n") {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
    }
    Ok(true)
}

/// The address between angle brackets after `MAIL FROM:` or `RCPT TO:`.
fn path_of(args: &str) -> Option<String> {
    let start = args.find('<')?;
    let end = args[start..].find('>')? + start;
    Some(args[start + 1..end].to_owned())
}

fn refusal_text(code: u16) -> String {
    if code < 500 {
        format!("{code} 4.3.0 try again later (test server)\r\n")
    } else {
        format!("{code} 5.1.1 refused for good (test server)\r\n")
    }
}

/// One SMTP session.
async fn session(stream: TcpStream, shared: &Shared, id: usize) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write
        .write_all(b"220 orgroster.test ESMTP test server ready\r\n")
        .await?;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut line = Vec::new();
    while read_line(&mut reader, &mut line).await? {
        let command = String::from_utf8_lossy(&line);
        let command = command.trim_end_matches(['\r', '\n']);
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let args = command.get(verb.len()..).unwrap_or("").trim();
        let reply: String = match verb.as_str() {
            "EHLO" => {
                from = None;
                to.clear();
                "250-orgroster.test greets you\r\n250-PIPELINING\r\n250 8BITMIME\r\n".to_owned()
            }
            "HELO" => {
                from = None;
                to.clear();
                "250 orgroster.test\r\n".to_owned()
            }
            "MAIL" => match path_of(args) {
                Some(path) if args.to_ascii_uppercase().starts_with("FROM:") => {
                    from = Some(path);
                    to.clear();
                    "250 2.1.0 sender ok\r\n".to_owned()
                }
                _ => "501 5.5.4 syntax: MAIL FROM:<address>\r\n".to_owned(),
            },
            "RCPT" => match (&from, path_of(args)) {
                (None, _) => "503 5.5.1 MAIL first\r\n".to_owned(),
                (Some(_), Some(path)) if args.to_ascii_uppercase().starts_with("TO:") => {
                    match shared.refusal(Stage::Rcpt) {
                        Some(code) => refusal_text(code),
                        None => {
                            to.push(path);
                            "250 2.1.5 recipient ok\r\n".to_owned()
                        }
                    }
                }
                _ => "501 5.5.4 syntax: RCPT TO:<address>\r\n".to_owned(),
            },
            "DATA" => {
                let Some(sender) = from.take().filter(|_| !to.is_empty()) else {
                    write.write_all(b"503 5.5.1 RCPT first\r\n").await?;
                    continue;
                };
                write
                    .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let (data, wire) = read_data(&mut reader).await?;
                let recipients = std::mem::take(&mut to);
                let reply = match shared.refusal(Stage::Data) {
                    Some(code) => refusal_text(code),
                    None => {
                        let queued = {
                            let mut state = shared.state();
                            state.received.push(Received {
                                connection: id,
                                from: sender,
                                to: recipients,
                                data,
                                wire,
                            });
                            state.received.len()
                        };
                        shared.changed.notify_waiters();
                        shared
                            .until(|state| state.held_from.is_none_or(|n| queued < n))
                            .await;
                        format!("250 2.0.0 queued as {queued}\r\n")
                    }
                };
                let delay = shared.state().reply_delay;
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                reply
            }
            "RSET" => {
                from = None;
                to.clear();
                "250 2.0.0 reset\r\n".to_owned()
            }
            "NOOP" => "250 2.0.0 ok\r\n".to_owned(),
            "VRFY" => "252 2.1.5 cannot verify\r\n".to_owned(),
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => "502 5.5.2 command not recognized\r\n".to_owned(),
        };
        write.write_all(reply.as_bytes()).await?;
    }
    Ok(())
}

/// Reads message data up to the line holding a single dot; returns it without
/// dot-stuffing, and as it came over the wire.
async fn read_data<R: AsyncRead + AsyncBufRead + Unpin>(
    reader: &mut R,
) -> io::Result<(String, String)> {
    let mut data = Vec::new();
    let mut wire = Vec::new();
    let mut line = Vec::new();
    loop {
        if !read_line(reader, &mut line).await? {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "end of data missing",
            ));
        }
        wire.extend_from_slice(&line);
        if line == b".\r\n" || line == b".\n" {
            break;
        }
        let unstuffed = if line.starts_with(b".") {
            &line[1..]
        } else {
            &line[..]
        };
        data.extend_from_slice(unstuffed);
        if data.len() > MAX_MESSAGE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "message too large",
            ));
        }
    }
    Ok((
        String::from_utf8_lossy(&data).into_owned(),
        String::from_utf8_lossy(&wire).into_owned(),
    ))
}

/// A message (or one part of a multipart message), parsed just enough for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mail {
    /// Header fields in order, names as written, values unfolded (still encoded).
    pub(crate) headers: Vec<(String, String)>,
    /// The body, still transfer-encoded.
    pub(crate) body: String,
}

impl Mail {
    /// Splits `raw` (CRLF line ends) into unfolded headers and the body.
    pub(crate) fn parse(raw: &str) -> Self {
        let (head, body) = if let Some(rest) = raw.strip_prefix("\r\n") {
            ("", rest)
        } else {
            raw.split_once("\r\n\r\n").unwrap_or((raw, ""))
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            if line.starts_with([' ', '\t']) {
                // A folded line continues the previous field.
                if let Some((_, value)) = headers.last_mut() {
                    value.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.to_owned(), value.trim_start().to_owned()));
            } else {
                headers.push((line.to_owned(), String::new()));
            }
        }
        Self {
            headers,
            body: body.to_owned(),
        }
    }

    /// Every value of the field `name` (any case), unfolded.
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    /// The field `name` (any case), unfolded; `None` when absent.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.all(name).into_iter().next()
    }

    /// The field `name` with RFC 2047 encoded words decoded.
    pub(crate) fn decoded_header(&self, name: &str) -> Option<String> {
        self.header(name).map(|v| decode_words(&v))
    }

    /// The media type, lowercased, without parameters (`text/plain` when absent).
    pub(crate) fn media_type(&self) -> String {
        self.header("Content-Type").map_or_else(
            || "text/plain".to_owned(),
            |v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            },
        )
    }

    /// A parameter of `Content-Type`, unquoted.
    pub(crate) fn content_type_param(&self, param: &str) -> Option<String> {
        let value = self.header("Content-Type")?;
        value.split(';').skip(1).find_map(|p| {
            let (name, v) = p.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case(param)
                .then(|| v.trim().trim_matches('"').to_owned())
        })
    }

    /// The parts of a multipart body, in order; empty for a single part.
    pub(crate) fn parts(&self) -> Vec<Self> {
        let Some(boundary) = self.content_type_param("boundary") else {
            return Vec::new();
        };
        if !self.media_type().starts_with("multipart/") {
            return Vec::new();
        }
        let delimiter = format!("\r\n--{boundary}");
        let body = format!("\r\n{}", self.body);
        let mut parts = Vec::new();
        // The first piece is the preamble; a piece starting with `--` follows the last
        // delimiter.
        for piece in body.split(&delimiter).skip(1) {
            if piece.starts_with("--") {
                break;
            }
            let piece = piece.trim_start_matches([' ', '\t']);
            parts.push(Self::parse(piece.strip_prefix("\r\n").unwrap_or(piece)));
        }
        parts
    }

    /// The body, transfer-decoded (`7bit`, `8bit`, `quoted-printable`, `base64`).
    pub(crate) fn text(&self) -> String {
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        match encoding.as_str() {
            "quoted-printable" => decode_quoted_printable(&self.body),
            "base64" => {
                let compact: String = self.body.split_whitespace().collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .expect("valid base64 in the body");
                String::from_utf8_lossy(&bytes).into_owned()
            }
            _ => self.body.clone(),
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Decodes quoted-printable text (RFC 2045 §6.7), soft line breaks included.
pub(crate) fn decode_quoted_printable(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if bytes[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            if let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2))
                && let (Some(h), Some(l)) = (hex(h), hex(l))
            {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes one RFC 2047 encoded word's text, `=?charset?B|Q?text?=` without the `=?`/`?=`.
fn decode_word(word: &str) -> Option<String> {
    let mut fields = word.splitn(3, '?');
    let _charset = fields.next()?;
    let encoding = fields.next()?;
    let text = fields.next()?;
    match encoding {
        "B" | "b" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
        "Q" | "q" => Some(decode_quoted_printable(&text.replace('_', " "))),
        _ => None,
    }
}

/// Decodes the RFC 2047 encoded words in a header value; white space between two adjacent
/// encoded words is dropped, as the RFC says.
pub(crate) fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while !rest.is_empty() {
        let Some(start) = rest.find("=?") else {
            out.push_str(rest);
            break;
        };
        let inner = &rest[start + 2..];
        // `charset ? encoding ? text ?=`: the end is the first `?=` after the second `?`.
        let decoded = inner.find('?').and_then(|q1| {
            let q2 = q1 + 1 + inner[q1 + 1..].find('?')?;
            let end = q2 + 1 + inner[q2 + 1..].find("?=")?;
            Some((decode_word(&inner[..end])?, start + 2 + end + 2))
        });
        match decoded {
            Some((text, consumed)) => {
                let between = &rest[..start];
                if !(after_word && between.trim().is_empty()) {
                    out.push_str(between);
                }
                out.push_str(&text);
                rest = &rest[consumed..];
                after_word = true;
            }
            None => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
                after_word = false;
            }
        }
    }
    out
}
