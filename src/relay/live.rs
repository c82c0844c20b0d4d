//! Faults changed while a server runs (issue 23's control socket,
//! `--control`): one versioned table of changes ([`FaultTable`]) that
//! every connection of every model sees, and what one connection keeps
//! of it ([`Watch`]).
//!
//! The table lives where every model can read it: a counter in memory
//! shared with forked children (`sys::shared_counter`) and the changes,
//! one JSON object a line, in a memfd, both made before the first fork.
//! Only the control socket's thread writes, as a sequence lock: the
//! counter is odd while the file is rewritten, even once it is whole, so
//! a reader that saw the same even count before and after its read has a
//! whole table (and otherwise tries again at its next step). A
//! connection pays one atomic load per step while nothing changes.
//!
//! Each change replaces one fault (its [`Slot`]: `--cut-after` and
//! `--reset-after` share one) for a scope: new connections, every
//! connection (live and new), or one live connection by its number. The
//! table keeps the latest change per scope and slot, so it stays small
//! ([`MAX_CHANGES`]) however long the server runs.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};

use super::cut::Ending;
use super::delay::Delay;
use super::layers::Direction;
use super::rate::Rate;
use super::slice::Slice;

/// The most changes the table keeps: a change for one connection gives
/// way to newer ones past this (the oldest first).
pub const MAX_CHANGES: usize = 256;

/// How often a blocking model's idle connection looks at the table: a
/// change reaches it within this (serve's loop is woken at once).
pub const LOOK_EVERY: Duration = Duration::from_millis(50);

/// The most the table's text may read (a whole table is far smaller).
const MAX_TEXT: u64 = 1 << 20;

/// One fault as its flag gives it (parsed by the flag's own parser).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    Rate(Rate),
    Ending(Ending),
    Delay(Delay),
    Slice(Slice),
    SlowClose(Duration),
    /// `None`: for good.
    Blackhole(Option<Duration>),
    Refuse(f64),
    Loss(f64),
    Duplicate(f64),
    Reorder(f64),
}

/// What a change replaces: one fault of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Rate,
    /// `--cut-after` and `--reset-after`: one ending.
    Ending,
    Delay,
    Slice,
    SlowClose,
    Blackhole,
    Refuse,
    Loss,
    Duplicate,
    Reorder,
}

impl Slot {
    /// The slot of a fault's name (its flag without `--`).
    pub fn of(name: &str) -> Option<Slot> {
        Some(match name {
            "rate" => Slot::Rate,
            "cut-after" | "reset-after" => Slot::Ending,
            "delay" => Slot::Delay,
            "slice" => Slot::Slice,
            "slow-close" => Slot::SlowClose,
            "blackhole" => Slot::Blackhole,
            "refuse" => Slot::Refuse,
            "loss" => Slot::Loss,
            "duplicate" => Slot::Duplicate,
            "reorder" => Slot::Reorder,
            _ => return None,
        })
    }
}

/// The names a change may give, for a message.
pub const NAMES: &str = "rate, cut-after, reset-after, delay, slice, slow-close, blackhole, \
                         refuse, loss, duplicate, reorder";

/// Which connections a change is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Connections begun from now on.
    New,
    /// Every connection: the live ones at their next step, and new ones.
    All,
    /// One live connection, by its number (0 the first).
    Conn(u64),
}

impl Scope {
    fn to_json(self) -> Value {
        match self {
            Scope::New => "new".into(),
            Scope::All => "all".into(),
            Scope::Conn(n) => n.into(),
        }
    }

    fn from_json(v: &Value) -> Option<Scope> {
        match v {
            Value::String(s) if s == "new" => Some(Scope::New),
            Value::String(s) if s == "all" => Some(Scope::All),
            v => v.as_u64().map(Scope::Conn),
        }
    }

    /// Whether a connection begun now takes it.
    fn for_new(self) -> bool {
        matches!(self, Scope::New | Scope::All)
    }
}

/// A fault's parser: its name and its value (as the flag takes it) to
/// the fault, or the one-line reason.
pub type Parse = fn(&str, &str) -> Result<Fault, String>;

/// One change: a fault set (`value`) or removed (`None`) for a scope.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The table's version that made it.
    pub version: u64,
    pub scope: Scope,
    /// The fault's name (its flag without `--`).
    pub name: String,
    pub value: Option<String>,
    pub dir: Direction,
}

impl Change {
    pub fn slot(&self) -> Option<Slot> {
        Slot::of(&self.name)
    }

    pub fn to_json(&self) -> Value {
        json!({"version": self.version, "scope": self.scope.to_json(), "fault": self.name,
               "value": self.value, "dir": self.dir.as_str()})
    }

    fn from_json(v: &Value) -> Option<Change> {
        Some(Change {
            version: v.get("version")?.as_u64()?,
            scope: Scope::from_json(v.get("scope")?)?,
            name: v.get("fault")?.as_str()?.to_string(),
            value: v.get("value")?.as_str().map(str::to_string),
            dir: direction(v.get("dir")?.as_str()?)?,
        })
    }
}

/// A direction's name (`up`, `down`, `both`).
pub fn direction(s: &str) -> Option<Direction> {
    match s {
        "up" => Some(Direction::Up),
        "down" => Some(Direction::Down),
        "both" => Some(Direction::Both),
        _ => None,
    }
}

/// The table's shared part, made by [`FaultTable::open`].
#[derive(Debug)]
struct Shared {
    /// Even: the file is whole at this version; odd: being rewritten.
    version: &'static AtomicUsize,
    file: File,
}

/// The faults changed while the server runs, one table for every
/// connection of every model (see the module's comment).
#[derive(Debug)]
pub struct FaultTable {
    parse: Parse,
    shared: OnceLock<Shared>,
    /// The writer's copy (the control socket's thread, in the server's
    /// process).
    changes: Mutex<Vec<Change>>,
    /// serve's loop, woken at each change (the blocking models look
    /// every [`LOOK_EVERY`]).
    waker: OnceLock<Arc<mio::Waker>>,
}

impl FaultTable {
    /// A table whose values `parse` reads, made nothing yet.
    pub fn new(parse: Parse) -> FaultTable {
        FaultTable {
            parse,
            shared: OnceLock::new(),
            changes: Mutex::new(Vec::new()),
            waker: OnceLock::new(),
        }
    }

    /// Wake serve's loop at each change.
    pub fn wake_with(&self, waker: Arc<mio::Waker>) {
        let _ = self.waker.set(waker);
    }

    /// Make its shared memory and file (the server's setup, before it
    /// forks a child).
    pub fn open(&self) -> io::Result<()> {
        let version = crate::sys::shared_counter()?;
        let file = File::from(crate::sys::memfd("sockcat-faults")?);
        let _ = self.shared.set(Shared { version, file });
        Ok(())
    }

    /// A fault's value, as the flag reads it.
    pub fn parse(&self, name: &str, value: &str) -> Result<Fault, String> {
        (self.parse)(name, value)
    }

    /// The version now (0 before any change; odd while one is written).
    pub fn version(&self) -> u64 {
        self.shared
            .get()
            .map_or(0, |s| s.version.load(Ordering::Acquire) as u64)
    }

    /// The changes the table holds now (the writer's copy).
    pub fn changes(&self) -> Vec<Change> {
        self.changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Record one change (its `version` is set here) and publish the
    /// table: the version it made.
    pub fn publish(&self, mut change: Change) -> io::Result<u64> {
        let Some(s) = self.shared.get() else {
            return Err(io::Error::other("the fault table is not open"));
        };
        let mut changes = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let v = s.version.load(Ordering::Acquire) as u64;
        change.version = v + 2;
        // The latest change per scope and slot is all that matters.
        changes.retain(|c| !(c.scope == change.scope && c.slot() == change.slot()));
        changes.push(change);
        while changes.len() > MAX_CHANGES {
            match changes
                .iter()
                .position(|c| matches!(c.scope, Scope::Conn(_)))
            {
                Some(i) => changes.remove(i),
                None => changes.remove(0),
            };
        }
        let mut text = Vec::new();
        for c in changes.iter() {
            text.extend_from_slice(c.to_json().to_string().as_bytes());
            text.push(b'\n');
        }
        s.version.store((v + 1) as usize, Ordering::Release);
        let written = (&s.file)
            .seek(SeekFrom::Start(0))
            .and_then(|_| (&s.file).write_all(&text))
            .and_then(|_| s.file.set_len(text.len() as u64));
        // Even again whatever happened: a reader retries on a torn read,
        // and a failed write leaves the old changes readable as well as
        // they can be.
        s.version.store((v + 2) as usize, Ordering::Release);
        if let Some(w) = self.waker.get() {
            let _ = w.wake();
        }
        written.map(|_| v + 2)
    }

    /// The whole table at its version, or `None` while it is written (a
    /// reader tries again at its next step).
    fn read(&self) -> Option<(u64, Vec<Change>)> {
        let s = self.shared.get()?;
        let before = s.version.load(Ordering::Acquire);
        if before % 2 == 1 {
            return None;
        }
        let mut text = Vec::new();
        let mut buf = [0u8; 8192];
        let mut off = 0u64;
        while off < MAX_TEXT {
            match s.file.read_at(&mut buf, off) {
                Ok(0) => break,
                Ok(n) => {
                    text.extend_from_slice(&buf[..n]);
                    off += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        if s.version.load(Ordering::Acquire) != before {
            return None;
        }
        let changes = text
            .split(|b| *b == b'\n')
            .filter_map(|line| serde_json::from_slice::<Value>(line).ok())
            .filter_map(|v| Change::from_json(&v))
            .collect();
        Some((before as u64, changes))
    }

    /// What connection `conn`, begun now, takes (the changes for new
    /// connections, and any for its number already: the control socket
    /// takes a number as soon as the connection has it, which may be
    /// before the connection reads the table), in order, and the version
    /// it saw.
    pub fn for_new(&self, conn: u64) -> (u64, Vec<Change>) {
        // A torn read is retried at once: a write is a few syscalls.
        for _ in 0..1000 {
            if let Some((v, mut changes)) = self.read() {
                changes.retain(|c| c.scope.for_new() || c.scope == Scope::Conn(conn));
                changes.sort_by_key(|c| c.version);
                return (v, changes);
            }
            std::thread::yield_now();
        }
        (self.version(), Vec::new())
    }
}

/// What one connection keeps of the table: which version it has taken,
/// and its number (for a change to it alone).
#[derive(Debug)]
pub struct Watch {
    table: Arc<FaultTable>,
    seen: u64,
    conn: u64,
}

impl Watch {
    /// Connection `conn` (its number), begun at version `seen`.
    pub fn new(table: Arc<FaultTable>, seen: u64, conn: u64) -> Watch {
        Watch { table, seen, conn }
    }

    /// The changes for this connection since it last looked, in order,
    /// each with its fault parsed (`None`: nothing new, or the table is
    /// being written: the next step looks again).
    pub fn changes(&mut self) -> Option<Vec<(Change, Option<Fault>)>> {
        if self.table.version() == self.seen {
            return None;
        }
        let (v, mut all) = self.table.read()?;
        let seen = std::mem::replace(&mut self.seen, v);
        all.retain(|c| {
            c.version > seen && (c.scope == Scope::All || c.scope == Scope::Conn(self.conn))
        });
        all.sort_by_key(|c| c.version);
        Some(
            all.into_iter()
                .map(|c| {
                    let f = c
                        .value
                        .as_deref()
                        .and_then(|v| self.table.parse(&c.name, v).ok());
                    (c, f)
                })
                .collect(),
        )
    }

    /// The connection's number.
    pub fn conn(&self) -> u64 {
        self.conn
    }
}

/// The control socket's settings, as a server's `Layers` carry them.
#[derive(Clone, Debug)]
pub struct Control {
    pub path: std::path::PathBuf,
    pub table: Arc<FaultTable>,
    /// The fault flags the server began with, and their way (for `list`).
    pub flags: Vec<&'static str>,
    pub dir: Direction,
    /// The forward's upstream is a datagram address: its faults are
    /// `--loss`, `--duplicate`, `--reorder` and `--delay`; a stream's, all
    /// but those three.
    pub datagram: bool,
}

/// Why fault `name` cannot act on a forward of this kind, as the flag's
/// own check says it (`None`: it can).
pub fn misfit(name: &str, datagram: bool) -> Option<String> {
    let dgram_only = matches!(name, "loss" | "duplicate" | "reorder");
    match (dgram_only, datagram, name) {
        (_, _, "delay") => None,
        (true, false, _) => Some(format!(
            "--{name} acts on datagrams; this forward's upstream is a stream"
        )),
        (false, true, _) => Some(format!(
            "--{name} acts on stream connections; this forward's upstream is a datagram address"
        )),
        _ => None,
    }
}

/// A count of connections begun, as the control socket checks a number
/// against it.
pub type Begun = Arc<AtomicU64>;

/// One line of `r` (its newline included) of at most `limit` bytes:
/// `Ok(None)` at the end of the stream; `true` beside an empty line: the
/// line was longer, and was skipped up to its newline.
pub fn read_line(r: &mut impl io::BufRead, limit: usize) -> io::Result<Option<(Vec<u8>, bool)>> {
    let mut line = Vec::new();
    let mut over = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok((!line.is_empty() || over).then_some((line, over)));
        }
        let (take, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if !over {
            let room = limit.saturating_sub(line.len());
            if take > room {
                over = true;
                line.clear();
            } else {
                line.extend_from_slice(&buf[..take]);
            }
        }
        r.consume(take);
        if done {
            return Ok(Some((line, over)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, v: &str) -> Result<Fault, String> {
        match name {
            "loss" => v.parse().map(Fault::Loss).map_err(|_| "bad".into()),
            _ => Err("unknown".into()),
        }
    }

    fn change(scope: Scope, name: &str, value: Option<&str>) -> Change {
        Change {
            version: 0,
            scope,
            name: name.into(),
            value: value.map(str::to_string),
            dir: Direction::Both,
        }
    }

    #[test]
    fn a_connection_sees_the_changes_for_it_once_in_order() {
        let t = Arc::new(FaultTable::new(parse));
        t.open().unwrap();
        let (v0, first) = t.for_new(3);
        assert!(first.is_empty());
        let mut w = Watch::new(t.clone(), v0, 3);
        assert!(w.changes().is_none());
        t.publish(change(Scope::All, "loss", Some("0.5"))).unwrap();
        t.publish(change(Scope::New, "loss", Some("0.1"))).unwrap();
        t.publish(change(Scope::Conn(2), "loss", Some("0.2")))
            .unwrap();
        t.publish(change(Scope::Conn(3), "loss", None)).unwrap();
        let got = w.changes().unwrap();
        let values: Vec<_> = got.iter().map(|(c, f)| (c.value.clone(), *f)).collect();
        assert_eq!(
            values,
            vec![(Some("0.5".into()), Some(Fault::Loss(0.5))), (None, None)]
        );
        assert!(w.changes().is_none());
        // A connection begun now takes the new connections' changes, and
        // those for its own number made before it read the table.
        let (_, fresh) = t.for_new(4);
        let names: Vec<_> = fresh.iter().map(|c| c.value.clone()).collect();
        assert_eq!(names, vec![Some("0.5".into()), Some("0.1".into())]);
        t.publish(change(Scope::Conn(5), "loss", Some("0.7")))
            .unwrap();
        let (_, fresh) = t.for_new(5);
        let names: Vec<_> = fresh.iter().map(|c| c.value.clone()).collect();
        assert_eq!(
            names,
            vec![Some("0.5".into()), Some("0.1".into()), Some("0.7".into())]
        );
    }

    #[test]
    fn the_table_keeps_the_latest_change_per_scope_and_fault() {
        let t = FaultTable::new(parse);
        t.open().unwrap();
        for n in 0..(MAX_CHANGES as u64 + 50) {
            t.publish(change(Scope::Conn(n), "loss", Some("0.5")))
                .unwrap();
            t.publish(change(Scope::All, "loss", Some("0.5"))).unwrap();
        }
        let kept = t.changes();
        assert_eq!(kept.len(), MAX_CHANGES);
        assert_eq!(kept.iter().filter(|c| c.scope == Scope::All).count(), 1);
    }

    #[test]
    fn a_long_line_is_cut_and_the_next_read_whole() {
        let mut r = io::BufReader::with_capacity(4, &b"0123456789\n{}\nend"[..]);
        assert_eq!(read_line(&mut r, 5).unwrap(), Some((Vec::new(), true)));
        assert_eq!(
            read_line(&mut r, 5).unwrap(),
            Some((b"{}\n".to_vec(), false))
        );
        assert_eq!(
            read_line(&mut r, 5).unwrap(),
            Some((b"end".to_vec(), false))
        );
        assert_eq!(read_line(&mut r, 5).unwrap(), None);
    }
}
