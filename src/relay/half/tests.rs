//! A [`Half`] driven by scripted ends: no sockets, each read and write
//! answers what the script says.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;

use super::{Half, Port, State};
use crate::relay::HalfError;

/// What a scripted read returns next.
#[derive(Clone, Debug)]
pub(crate) enum Cue {
    Data(Vec<u8>),
    /// Nothing there now.
    Block,
    /// The end of the stream (and every read after).
    Eof,
    /// The other end reset the connection.
    Reset,
}

/// A scripted end: reads follow its cues (`WouldBlock` once they run
/// out), writes take up to `room` bytes (then `WouldBlock`), or fail.
#[derive(Debug, Default)]
pub(crate) struct Fake {
    pub(crate) reads: RefCell<VecDeque<Cue>>,
    /// Bytes writes take before they would block (`None`: any amount).
    pub(crate) room: Cell<Option<usize>>,
    /// Writes fail (the reader went away).
    pub(crate) gone: Cell<bool>,
    pub(crate) dgram: bool,
    pub(crate) written: RefCell<Vec<u8>>,
    pub(crate) shut: Cell<bool>,
    pub(crate) reset: Cell<bool>,
    /// An end of stream read now is a cut's doing, not a FIN.
    pub(crate) cut: Cell<bool>,
    /// Reads tried (answered or not).
    pub(crate) reads_tried: Cell<usize>,
    /// A short read takes all it holds (a plain stream socket's does).
    pub(crate) takes_all: bool,
    /// Its end ends both ways (a WebSocket's).
    pub(crate) ends_both: bool,
}

impl Fake {
    pub(crate) fn new(cues: &[Cue]) -> Fake {
        Fake {
            reads: RefCell::new(cues.iter().cloned().collect()),
            ..Fake::default()
        }
    }

    pub(crate) fn cue(&self, c: Cue) {
        self.reads.borrow_mut().push_back(c);
    }

    pub(crate) fn room(&self, n: Option<usize>) {
        self.room.set(n);
    }

    pub(crate) fn went_away(&self) {
        self.gone.set(true);
    }

    pub(crate) fn got(&self) -> Vec<u8> {
        self.written.borrow().clone()
    }
}

impl Port for Fake {
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.reads_tried.set(self.reads_tried.get() + 1);
        let mut reads = self.reads.borrow_mut();
        match reads.pop_front() {
            None | Some(Cue::Block) => Err(io::ErrorKind::WouldBlock.into()),
            Some(Cue::Eof) => {
                reads.push_front(Cue::Eof);
                Ok(None)
            }
            Some(Cue::Reset) => Err(io::ErrorKind::ConnectionReset.into()),
            Some(Cue::Data(d)) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                if n < d.len() {
                    reads.push_front(Cue::Data(d[n..].to_vec()));
                }
                Ok(Some(n))
            }
        }
    }

    fn write(&self, data: &[u8]) -> io::Result<usize> {
        if self.gone.get() {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let n = self.room.get().map_or(data.len(), |r| r.min(data.len()));
        if n == 0 && !data.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if let Some(r) = self.room.get() {
            self.room.set(Some(r - n));
        }
        self.written.borrow_mut().extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn is_dgram(&self) -> bool {
        self.dgram
    }

    fn end_ends_both_ways(&self) -> bool {
        self.ends_both
    }

    fn check_end(&self) -> io::Result<()> {
        if self.cut.get() {
            return Err(io::Error::other("closed at shutdown"));
        }
        Ok(())
    }

    fn shut_write(&self) {
        self.shut.set(true);
    }

    fn reset_on_close(&self) {
        self.reset.set(true);
    }

    fn short_read_takes_all(&self) -> bool {
        self.takes_all
    }
}

fn pump(h: &mut Half, from: &Fake, to: &Fake) -> Result<super::Progress, HalfError> {
    let mut scratch = vec![0u8; 16];
    h.pump(from, to, &mut scratch, |_, _| {})
}

#[test]
fn the_source_s_end_is_passed_on_after_its_bytes() {
    let from = Fake::new(&[Cue::Data(b"hello".to_vec()), Cue::Eof]);
    let to = Fake::default();
    let mut h = Half::new(true);
    pump(&mut h, &from, &to).unwrap();
    assert_eq!(to.got(), b"hello");
    assert!(to.shut.get(), "the FIN passed on");
    assert_eq!(h.state(), State::Done);
    assert_eq!((h.moved(), h.read()), (5, 5));
    assert!(h.copied(), "no plain descriptors: copied");
}

#[test]
fn held_bytes_go_out_before_the_end_is_passed_on() {
    let from = Fake::new(&[Cue::Data(b"hello".to_vec()), Cue::Eof]);
    let to = Fake::default();
    to.room(Some(2));
    let mut h = Half::new(false);
    pump(&mut h, &from, &to).unwrap();
    assert!(!to.shut.get(), "no FIN while bytes are held");
    assert!(h.wants_write() && !h.wants_read());
    to.room(None);
    pump(&mut h, &from, &to).unwrap();
    assert_eq!(to.got(), b"hello");
    assert!(to.shut.get());
    assert_eq!(h.state(), State::Done);
}

#[test]
fn a_destination_that_takes_nothing_stops_the_reads() {
    let from = Fake::new(&[]);
    for _ in 0..100 {
        from.cue(Cue::Data(vec![7u8; 16]));
    }
    let to = Fake::default();
    to.room(Some(0));
    let mut h = Half::new(false);
    let p = pump(&mut h, &from, &to).unwrap();
    assert_eq!(p.moved, 0);
    assert_eq!(from.reads_tried.get(), 1, "one chunk read, then held");
    assert!(h.wants_write() && !h.wants_read());
    for _ in 0..10 {
        pump(&mut h, &from, &to).unwrap();
    }
    assert_eq!(from.reads_tried.get(), 1, "no read while the chunk waits");
    assert!(h.pending.len() <= 16, "memory bounded by one chunk");
    to.room(Some(40));
    pump(&mut h, &from, &to).unwrap();
    assert_eq!(to.got().len(), 40);
    assert!(h.pending.len() <= 16);
}

#[test]
fn a_reset_source_fails_the_read() {
    let from = Fake::new(&[Cue::Data(b"ab".to_vec()), Cue::Reset]);
    let to = Fake::default();
    let mut h = Half::new(false);
    match pump(&mut h, &from, &to) {
        Err(HalfError::Read(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
        other => panic!("{other:?}"),
    }
    assert_eq!(to.got(), b"ab");
    assert!(!to.shut.get(), "a reset is no FIN");
}

#[test]
fn a_destination_gone_fails_the_write_and_then_input_is_dropped() {
    let from = Fake::new(&[Cue::Data(b"ab".to_vec())]);
    let to = Fake::default();
    to.went_away();
    let mut h = Half::new(false);
    assert!(matches!(pump(&mut h, &from, &to), Err(HalfError::Write(_))));
    h.discard();
    from.cue(Cue::Data(b"more".to_vec()));
    from.cue(Cue::Eof);
    pump(&mut h, &from, &to).unwrap();
    assert_eq!(h.read(), 6, "read, and dropped");
    assert_eq!(h.state(), State::Done);
}

/// The lingering close's core: a half that reads and drops until the
/// peer's FIN, whatever comes meanwhile.
#[test]
fn a_discarding_half_reads_until_the_fin() {
    let peer = Fake::new(&[Cue::Data(b"late".to_vec()), Cue::Block]);
    let nowhere = Fake::default();
    let mut h = Half::new(false);
    h.discard();
    pump(&mut h, &peer, &nowhere).unwrap();
    assert!(h.wants_read() && !h.is_done());
    peer.cue(Cue::Data(b"later".to_vec()));
    peer.cue(Cue::Eof);
    pump(&mut h, &peer, &nowhere).unwrap();
    assert!(h.is_done());
    assert!(nowhere.got().is_empty());
    assert_eq!(h.read(), 9);
}

#[test]
fn a_datagram_goes_whole_or_waits_whole() {
    let from = Fake::new(&[Cue::Data(b"one".to_vec()), Cue::Data(Vec::new())]);
    let to = Fake {
        dgram: true,
        ..Fake::default()
    };
    let mut h = Half::new(false);
    pump(&mut h, &from, &to).unwrap();
    assert_eq!(to.got(), b"one");
    assert!(!h.holding());
}

#[test]
fn finishing_by_rule_drops_what_is_held_and_passes_the_end_on() {
    let from = Fake::new(&[Cue::Data(b"held".to_vec())]);
    let to = Fake::default();
    to.room(Some(0));
    let mut h = Half::new(false);
    pump(&mut h, &from, &to).unwrap();
    assert!(h.holding());
    h.finish(&to);
    assert!(h.is_done() && !h.holding() && to.shut.get());
}

#[test]
fn an_end_that_is_a_cut_is_no_fin() {
    let from = Fake::new(&[Cue::Data(b"part".to_vec()), Cue::Eof]);
    from.cut.set(true);
    let to = Fake::default();
    let mut h = Half::new(false);
    assert!(matches!(pump(&mut h, &from, &to), Err(HalfError::Read(_))));
    assert_eq!(to.got(), b"part");
    assert!(!to.shut.get(), "a cut transfer must not look complete");
}

/// A plain descriptor as a port (a socket as source, a pipe as a
/// waiting destination): the splice paths need real descriptors.
struct Plain<'a> {
    fd: std::os::fd::BorrowedFd<'a>,
    waiting_pipe: bool,
}

impl Port for Plain<'_> {
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        crate::sys::read(self.fd, buf).map(|n| (n > 0).then_some(n))
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        crate::sys::write_some(self.fd, data)
    }
    fn plain_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        Some(self.fd)
    }
    fn is_waiting_pipe(&self) -> bool {
        self.waiting_pipe
    }
    fn shut_write(&self) {}
}

#[test]
fn into_a_waiting_pipe_the_bytes_go_straight_and_the_end_follows() {
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    let (mut client, served) = std::os::unix::net::UnixStream::pair().unwrap();
    served.set_nonblocking(true).unwrap();
    let (r, w) = crate::sys::pipe().unwrap();
    let from = Plain {
        fd: served.as_fd(),
        waiting_pipe: false,
    };
    let to = Plain {
        fd: w.as_fd(),
        waiting_pipe: true,
    };
    let mut h = Half::new(true);
    let mut scratch = Vec::new();
    client.write_all(b"hello").unwrap();
    let p = h.pump(&from, &to, &mut scratch, |_, _| {}).unwrap();
    assert_eq!(p.moved, 5);
    assert!(!h.holding(), "nothing waits inside the half");
    assert!(scratch.is_empty(), "no copy: no buffer");
    assert_eq!(h.state(), State::Running);
    client.shutdown(std::net::Shutdown::Write).unwrap();
    h.pump(&from, &to, &mut scratch, |_, _| {}).unwrap();
    assert_eq!(h.state(), State::Done, "the end after the bytes");
    assert_eq!((h.moved(), h.read()), (5, 5));
    drop(w);
    let mut got = Vec::new();
    std::fs::File::from(r).read_to_end(&mut got).unwrap();
    assert_eq!(got, b"hello");
}

#[test]
fn a_waiting_pipe_whose_reader_went_away_fails_the_write() {
    use std::io::Write;
    use std::os::fd::AsFd;
    let (mut client, served) = std::os::unix::net::UnixStream::pair().unwrap();
    served.set_nonblocking(true).unwrap();
    let (r, w) = crate::sys::pipe().unwrap();
    drop(r);
    let from = Plain {
        fd: served.as_fd(),
        waiting_pipe: false,
    };
    let to = Plain {
        fd: w.as_fd(),
        waiting_pipe: true,
    };
    client.write_all(b"hello").unwrap();
    let mut h = Half::new(true);
    let r = h.pump(&from, &to, &mut Vec::new(), |_, _| {});
    assert!(
        matches!(&r, Err(HalfError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe),
        "{r:?}"
    );
}

/// A source like a plain socket: a short read takes all it holds.
fn socket_like(cues: &[Cue]) -> Fake {
    Fake {
        takes_all: true,
        ..Fake::new(cues)
    }
}

fn pump_seen(h: &mut Half, from: &Fake, to: &Fake, seen_without_end: bool) {
    let mut scratch = Vec::new();
    h.pump_seen(from, to, &mut scratch, |_, _| {}, seen_without_end)
        .unwrap();
}

/// Seen readable with no end (an edge-triggered event without a
/// hang-up), a short read from a socket took all it held: the half stops
/// there, without the read that would only answer `WouldBlock`.
#[test]
fn a_short_read_seen_without_an_end_is_the_last_read() {
    let from = socket_like(&[Cue::Data(b"GET /".to_vec())]);
    let to = Fake::default();
    let mut h = Half::new(false);
    pump_seen(&mut h, &from, &to, true);
    assert_eq!(to.got(), b"GET /");
    assert_eq!(from.reads_tried.get(), 1, "no read to confirm it is empty");
    assert!(h.wants_read(), "it waits for the next event");
}

/// Without that word from the driver (a step for a deadline, after the
/// budget, or an event that showed a hang-up), the half reads on to
/// `WouldBlock` or the end: data and a FIN that came together are one
/// event, and a FIN left behind a short read is told by no other.
#[test]
fn without_it_the_half_reads_on_and_finds_the_fin_behind_the_data() {
    let from = socket_like(&[Cue::Data(b"last".to_vec()), Cue::Eof]);
    let to = Fake::default();
    let mut h = Half::new(false);
    pump_seen(&mut h, &from, &to, false);
    assert_eq!(to.got(), b"last");
    assert!(to.shut.get() && h.is_done(), "the FIN passed on");

    let from = socket_like(&[Cue::Data(b"req".to_vec())]);
    let mut h = Half::new(false);
    pump_seen(&mut h, &from, &Fake::default(), false);
    assert_eq!(from.reads_tried.get(), 2, "read to WouldBlock");
}

/// A level-triggered driver's half stops at a short read whatever it was
/// told (its wait says again what is left); a port that may hold more
/// than a short read shows (TLS) is read to `WouldBlock` whatever it was
/// told; a full read is never the last.
#[test]
fn only_a_short_read_from_a_port_that_takes_all_is_the_last() {
    let from = socket_like(&[Cue::Data(b"a".to_vec())]);
    let mut h = Half::new(false);
    h.level_triggered();
    pump_seen(&mut h, &from, &Fake::default(), false);
    assert_eq!(from.reads_tried.get(), 1, "level-triggered: stops there");

    let from = Fake::new(&[Cue::Data(b"a".to_vec())]);
    let mut h = Half::new(false);
    pump_seen(&mut h, &from, &Fake::default(), true);
    assert_eq!(from.reads_tried.get(), 2, "a port that may hold more");

    let from = socket_like(&[
        Cue::Data(vec![1; super::COPY_BUF]),
        Cue::Data(b"b".to_vec()),
    ]);
    let to = Fake::default();
    let mut h = Half::new(false);
    pump_seen(&mut h, &from, &to, true);
    assert_eq!(to.got().len(), super::COPY_BUF + 1, "a full read reads on");
    assert_eq!(from.reads_tried.get(), 2);
}

/// Two plain stream sockets: a small chunk is copied (a read and a
/// write, no pipe), and the first read that fills `SPLICE_FROM` turns
/// the half to splice for good, the rest of that burst included. The
/// half stays on the splice path either way: nothing counts as copied.
#[test]
fn a_half_that_splices_bulk_only_copies_small_chunks_then_splices() {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    use crate::relay::RelaySocket;
    use crate::transport::Stream;

    let (mut client, src) = UnixStream::pair().unwrap();
    let (dst, mut peer) = UnixStream::pair().unwrap();
    src.set_nonblocking(true).unwrap();
    dst.set_nonblocking(true).unwrap();
    let (src, dst) = (Stream::Unix(src), Stream::Unix(dst));
    let (from, to) = (RelaySocket::Stream(&src), RelaySocket::Stream(&dst));
    let mut h = Half::new(super::may_splice(&from, &to, false));
    h.splice_bulk_only();
    let mut scratch = Vec::new();
    let moved = |h: &mut Half, scratch: &mut Vec<u8>| {
        h.pump_seen(&from, &to, scratch, |_, _| {}, true)
            .unwrap()
            .moved
    };
    client.write_all(b"small request").unwrap();
    assert_eq!(moved(&mut h, &mut scratch), 13);
    assert!(!h.bulk, "a short read: still copying");
    assert_eq!(
        scratch.len(),
        super::SPLICE_FROM,
        "room for small chunks only"
    );
    let mut got = [0u8; 13];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"small request");

    let bulk = vec![9u8; 3 * super::SPLICE_FROM];
    client.write_all(&bulk).unwrap();
    assert_eq!(
        moved(&mut h, &mut scratch),
        bulk.len(),
        "all of it, in one call"
    );
    assert!(h.bulk, "a full read: splicing from now on");
    let mut back = vec![0u8; bulk.len()];
    peer.read_exact(&mut back).unwrap();
    assert!(back == bulk);
    assert!(!h.copied(), "on the splice path throughout");
    assert!(!h.holding(), "and the pipe given back");
}

#[test]
fn bytes_delivered_before_a_failure_in_the_same_call_are_counted() {
    // A reset read right behind data (a fault's `--reset-after`, or a
    // peer's reset that came with its last bytes): what got through
    // still shows in the byte counts.
    let from = Fake::new(&[Cue::Data(b"abcde".to_vec()), Cue::Reset]);
    let to = Fake::default();
    let mut h = Half::new(false);
    let mut buf = Vec::new();
    let r = h.pump(&from, &to, &mut buf, |_, _| {});
    assert!(matches!(r, Err(HalfError::Read(_))), "{r:?}");
    assert_eq!(to.got(), b"abcde");
    assert_eq!(h.moved(), 5);
}
