//! The fault flags of a forwarding server (issue 23: a forwarder that
//! makes the network misbehave on purpose), their parsers, and the man
//! pages' FAULTS section. Each fault is a layer on a forwarded connection
//! (`relay::layers`); `cli::config` turns these flags into its `Layers`.

use clap::{Args, ValueEnum};

/// Faults on every forwarded connection, and the way they act.
#[derive(Debug, Args, Clone, Default)]
pub struct FaultArgs {
    #[command(flatten)]
    pub fault: Faults,

    /// With a fault: the way it acts: up (the client's bytes to the upstream), down, or both
    #[arg(long, value_enum, value_name = "WAY", default_value_t = FaultDir::Both, requires = "fault")]
    pub fault_dir: FaultDir,

    /// With a fault: the fraction of connections it applies to, from 0 to 1 (chosen per connection; the others are forwarded as they are)
    #[arg(long, value_name = "F", value_parser = parse_fraction, requires = "fault")]
    pub fault_fraction: Option<f64>,

    /// With --forward: change the faults while the server runs, through a Unix socket made at PATH (mode 0600): one JSON object a line, such as {"op":"add","fault":"delay","value":"200ms"} (see FAULTS)
    #[arg(long, value_name = "PATH", group = "fault", requires = "forward", value_hint = clap::ValueHint::FilePath)]
    pub control: Option<std::path::PathBuf>,

    /// With a fault: where its random choices begin (which connections --fault-fraction picks): the same N, the same choices in every run
    #[arg(long, value_name = "N", value_parser = parse_seed, requires = "fault")]
    pub seed: Option<u64>,
}

/// The faults (the group `--fault-dir` needs one of). Each needs
/// `--forward`.
#[derive(Debug, Args, Clone, Default)]
#[group(id = "fault", multiple = true)]
pub struct Faults {
    /// With --forward: cap each forwarded stream connection at RATE bytes per second each way --fault-dir names (64k, 1M: k is 1024, M 1048576; /s may follow), with a burst of a tenth of a second's worth unless :BURST says (1M:256k)
    #[arg(long, value_name = "RATE[:BURST]", value_parser = parse_rate, requires = "forward")]
    pub rate: Option<RateArg>,

    /// With --forward: end each way --fault-dir names with a FIN after BYTES (64k, 1M): the peer receives exactly BYTES, then the end of the stream
    #[arg(long, value_name = "BYTES", value_parser = parse_count, requires = "forward")]
    pub cut_after: Option<u64>,

    /// With --forward: reset the connection (both peers see a reset, no FIN) after BYTES each way --fault-dir names, or after DUR from its start (500ms, 2s; 10m is 10 MiB, say 10min)
    #[arg(long, value_name = "BYTES|DUR", value_parser = parse_reset, requires = "forward", conflicts_with = "cut_after")]
    pub reset_after: Option<ResetArg>,

    /// With --forward: hold every chunk (on a datagram forward, every datagram) each way --fault-dir names for DUR (200ms), or for DUR plus or minus up to JITTER drawn per chunk (200ms~50ms, --seed repeats the draws); a stream's bytes keep their order
    #[arg(long, value_name = "DUR[~JITTER]", value_parser = parse_delay, requires = "forward")]
    pub delay: Option<DelayArg>,

    /// With --forward: write each way --fault-dir names to its destination in pieces of at most BYTES (100, 1k), DUR apart if given (100/1ms); every byte arrives, in order
    #[arg(long, value_name = "BYTES[/DUR]", value_parser = parse_slice, requires = "forward")]
    pub slice: Option<SliceArg>,

    /// With --forward: hold the end of each way --fault-dir names (the FIN) for DUR before passing it on
    #[arg(long, value_name = "DUR", value_parser = positive_duration, requires = "forward")]
    pub slow_close: Option<std::time::Duration>,

    /// With --forward: drop every byte each way --fault-dir names (the sender's writes go through, the peer gets nothing; an end still passes), for good, or for DUR (--blackhole=2s: the = is needed) from the connection's start, then close both sides (toxiproxy's timeout)
    #[arg(long, value_name = "DUR", num_args = 0..=1, require_equals = true, default_missing_value = "0s", value_parser = duration, requires = "forward")]
    pub blackhole: Option<std::time::Duration>,

    /// With --forward: reset a fraction F (0 to 1) of new connections at once, chosen per connection (--seed repeats the choice); those get no other fault
    #[arg(long, value_name = "F", value_parser = parse_fraction, requires = "forward")]
    pub refuse: Option<f64>,

    /// With a datagram --forward (udp, unixgram): drop each datagram each way --fault-dir names with probability P (0 to 1), drawn per datagram (--seed repeats which)
    #[arg(long, value_name = "P", value_parser = parse_fraction, requires = "forward")]
    pub loss: Option<f64>,

    /// With a datagram --forward: send each datagram twice with probability P (0 to 1)
    #[arg(long, value_name = "P", value_parser = parse_fraction, requires = "forward")]
    pub duplicate: Option<f64>,

    /// With a datagram --forward: hold a datagram back with probability P (0 to 1) until the next one has gone (or 50ms have passed)
    #[arg(long, value_name = "P", value_parser = parse_fraction, requires = "forward")]
    pub reorder: Option<f64>,
}

impl Faults {
    /// The first fault's flag given, for a message (`None`: no fault).
    pub fn flag(&self) -> Option<&'static str> {
        self.given().into_iter().next()
    }

    /// Every fault flag given, in the order of the FAULTS section.
    pub fn given(&self) -> Vec<&'static str> {
        [
            (self.rate.is_some(), "--rate"),
            (self.cut_after.is_some(), "--cut-after"),
            (self.reset_after.is_some(), "--reset-after"),
            (self.delay.is_some(), "--delay"),
            (self.slice.is_some(), "--slice"),
            (self.slow_close.is_some(), "--slow-close"),
            (self.blackhole.is_some(), "--blackhole"),
            (self.refuse.is_some(), "--refuse"),
            (self.loss.is_some(), "--loss"),
            (self.duplicate.is_some(), "--duplicate"),
            (self.reorder.is_some(), "--reorder"),
        ]
        .into_iter()
        .filter_map(|(given, flag)| given.then_some(flag))
        .collect()
    }
}

/// `--control`: its socket's path and the fault table it changes
/// (nothing made yet: the server's setup opens both).
pub fn control(f: &FaultArgs) -> Option<crate::relay::live::Control> {
    use crate::relay::layers::Direction;
    use crate::relay::live::{Control, FaultTable};
    Some(Control {
        path: f.control.clone()?,
        table: std::sync::Arc::new(FaultTable::new(parse_fault)),
        flags: f.fault.given(),
        dir: match f.fault_dir {
            FaultDir::Up => Direction::Up,
            FaultDir::Down => Direction::Down,
            FaultDir::Both => Direction::Both,
        },
        // (Set by the forward's plan, which knows its upstream.)
        datagram: false,
    })
}

/// A fault the control socket names (its flag without `--`) with its
/// value as the flag takes it, read by the flag's own parser.
pub fn parse_fault(name: &str, value: &str) -> Result<crate::relay::live::Fault, String> {
    use crate::relay::cut::{Ending, How};
    use crate::relay::live::Fault;
    let chance = |flag: &str| parse_fraction(value).map_err(|e| format!("--{flag}: {e}"));
    Ok(match name {
        "rate" => {
            let r = parse_rate(value)?;
            Fault::Rate(match r.burst {
                Some(burst) => crate::relay::rate::Rate {
                    per_sec: r.per_sec,
                    burst,
                },
                None => crate::relay::rate::Rate::new(r.per_sec),
            })
        }
        "cut-after" => Fault::Ending(Ending::Bytes(How::Fin, parse_count(value)?)),
        "reset-after" => Fault::Ending(match parse_reset(value)? {
            ResetArg::Bytes(n) => Ending::Bytes(How::Reset, n),
            ResetArg::Time(d) => Ending::Time(d),
        }),
        "delay" => {
            let d = parse_delay(value)?;
            Fault::Delay(crate::relay::delay::Delay {
                latency: d.latency,
                jitter: d.jitter,
            })
        }
        "slice" => {
            let s = parse_slice(value)?;
            Fault::Slice(crate::relay::slice::Slice {
                bytes: s.bytes,
                gap: s.gap,
            })
        }
        "slow-close" => Fault::SlowClose(positive_duration(value)?),
        "blackhole" => Fault::Blackhole(Some(duration(value)?).filter(|d| !d.is_zero())),
        "refuse" => Fault::Refuse(chance("refuse")?),
        "loss" => Fault::Loss(chance("loss")?),
        "duplicate" => Fault::Duplicate(chance("duplicate")?),
        "reorder" => Fault::Reorder(chance("reorder")?),
        _ => {
            return Err(format!(
                "unknown fault '{name}': expected one of {}",
                crate::relay::live::NAMES
            ));
        }
    })
}

/// `--reset-after`: a byte count or a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetArg {
    Bytes(u64),
    Time(std::time::Duration),
}

/// `--delay DUR[~JITTER]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DelayArg {
    pub latency: std::time::Duration,
    pub jitter: std::time::Duration,
}

/// `DUR[~JITTER]`: durations, not both zero.
fn parse_delay(s: &str) -> Result<DelayArg, String> {
    let (latency, jitter) = match s.split_once('~') {
        Some((l, j)) => (l, Some(j)),
        None => (s, None),
    };
    let latency = duration(latency)?;
    let jitter = jitter.map(duration).transpose()?.unwrap_or_default();
    if latency.is_zero() && jitter.is_zero() {
        return Err(format!("invalid delay '{s}': must be longer than 0s"));
    }
    Ok(DelayArg { latency, jitter })
}

/// `--slice BYTES[/DUR]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceArg {
    pub bytes: usize,
    pub gap: std::time::Duration,
}

/// `BYTES[/DUR]`: a size more than 0 (see [`parse_size`]) and a duration
/// (none: the pieces follow at once).
fn parse_slice(s: &str) -> Result<SliceArg, String> {
    let (bytes, gap) = match s.split_once('/') {
        Some((b, g)) => (b, Some(g)),
        None => (s, None),
    };
    let bytes = match parse_size(bytes).map(usize::try_from) {
        Some(Ok(0)) => return Err(format!("invalid slice '{bytes}': must be more than 0")),
        Some(Ok(n)) => n,
        _ => {
            return Err(format!(
                "invalid slice '{s}': expected BYTES[/DUR] such as 100 or 1k/10ms"
            ));
        }
    };
    let gap = gap.map(duration).transpose()?.unwrap_or_default();
    Ok(SliceArg { bytes, gap })
}

/// `--cut-after`'s byte count (see [`parse_size`]; 0 cuts at once).
fn parse_count(s: &str) -> Result<u64, String> {
    parse_size(s)
        .ok_or_else(|| format!("invalid byte count '{s}': expected bytes such as 512, 64k or 1M"))
}

/// `--reset-after`: a size first (so `10m` is 10 MiB), else a duration
/// longer than 0 (`500ms`, `2s`, `10min`).
fn parse_reset(s: &str) -> Result<ResetArg, String> {
    if let Some(n) = parse_size(s) {
        return Ok(ResetArg::Bytes(n));
    }
    match duration(s) {
        Ok(d) if d.is_zero() => Err(format!(
            "invalid '{s}': a time must be longer than 0s (bytes: 0 resets at the first byte)"
        )),
        Ok(d) => Ok(ResetArg::Time(d)),
        Err(_) => Err(format!(
            "invalid '{s}': expected bytes (512, 64k, 1M) or a duration (500ms, 2s, 10min) of at most a year"
        )),
    }
}

/// A fault's duration, with the one wording every fault flag gives.
fn duration(s: &str) -> Result<std::time::Duration, String> {
    super::parse_duration(s).map_err(|_| {
        format!(
            "invalid duration '{s}': expected a time such as 500ms, 2s or 10min, of at most a year"
        )
    })
}

/// A fault's duration longer than zero.
fn positive_duration(s: &str) -> Result<std::time::Duration, String> {
    match duration(s)? {
        d if d.is_zero() => Err(format!("invalid duration '{s}': must be longer than 0s")),
        d => Ok(d),
    }
}

/// `--seed`: a whole number.
fn parse_seed(s: &str) -> Result<u64, String> {
    s.trim().parse().map_err(|_| {
        format!(
            "invalid seed '{s}': expected a whole number from 0 to {}",
            u64::MAX
        )
    })
}

/// `--fault-dir`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum FaultDir {
    /// The client's bytes to the upstream
    Up,
    /// The upstream's bytes to the client
    Down,
    /// Both ways
    #[default]
    Both,
}

/// `--rate RATE[:BURST]`, in bytes (the burst `None`: the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateArg {
    pub per_sec: u64,
    pub burst: Option<u64>,
}

/// `RATE[/s][:BURST]`: each a size (see [`parse_size`]), more than 0.
fn parse_rate(s: &str) -> Result<RateArg, String> {
    let (rate, burst) = match s.split_once(':') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    let rate = rate.strip_suffix("/s").unwrap_or(rate);
    let positive = |what: &str, v: &str| match parse_size(v) {
        Some(0) => Err(format!("invalid {what} '{v}': must be more than 0")),
        Some(n) => Ok(n),
        None => Err(format!(
            "invalid {what} '{v}': expected bytes such as 512, 64k or 1M"
        )),
    };
    Ok(RateArg {
        per_sec: positive("rate", rate)?,
        burst: burst.map(|b| positive("burst", b)).transpose()?,
    })
}

/// `--fault-fraction`: a number from 0 to 1.
fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!(
            "invalid fraction '{s}': expected a number from 0 to 1, such as 0.25"
        )),
    }
}

/// A size in bytes (`None`: not one): digits with an optional k, M or G (1024, 1024 squared and cubed;
/// either case, `B` or `iB` may follow), as curl's `--limit-rate` takes.
pub fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], Some(c.to_ascii_lowercase())),
        _ => (t, None),
    };
    let shift = match unit {
        None => 0,
        Some('k') => 10,
        Some('m') => 20,
        Some('g') => 30,
        Some(_) => return None,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// The man pages' FAULTS section (the servers' pages).
pub(super) const MAN: &str = r#".SH FAULTS
A forwarding server can make the network misbehave on purpose, to test how
a client (or a server) copes with a slow link. Each fault is an option on
\fB\-\-forward\fR, applies to every forwarded stream connection (TCP, Unix,
TLS on either side; a datagram forward's are below) in every model, and acts the way
\fB\-\-fault\-dir\fR names: \fBup\fR (the client's bytes to the upstream),
\fBdown\fR (the upstream's to the client) or \fBboth\fR (the default).
\fB\-v\fR says, for each connection, which fault applies
(\fBPEER: rate 64KiB/s both ways\fR; JSON: \fBevent\fR \fBfault\fR,
\fBconnection\fR, \fBfault\fR, \fBdirection\fR and its settings).
.TP
\fB\-\-rate\fR \fIRATE\fR[\fB:\fR\fIBURST\fR]
Cap the bytes per second each way: \fB64k\fR, \fB1M\fR (k is 1024, M
1048576; \fB/s\fR may follow). After a quiet spell up to \fIBURST\fR
bytes go at once (a tenth of a second's worth unless given). What the cap
holds back stays in the socket, so the sender is slowed by TCP's own
window: memory stays bounded, never by the data's size. A connection with
a fault is copied through a buffer (\fBby copy\fR), not spliced.
.TP
\fB\-\-cut\-after\fR \fIBYTES\fR
End each way with a FIN after \fIBYTES\fR (\fB64k\fR, \fB1M\fR): the
peer receives exactly that many bytes, then the end of the stream; what
the sender sends past them is read and dropped until its own end (so the
close is no reset). \fB\-v\fR says it as it happens:
\fBPEER: cut up at byte 1000\fR (JSON: \fBfault\fR \fBcut\fR,
\fBat_byte\fR).
.TP
\fB\-\-reset\-after\fR \fIBYTES\fR|\fIDUR\fR
Reset the connection after \fIBYTES\fR each way (the peer receives exactly
that many, then a reset: both peers see the connection reset, never a FIN),
or \fIDUR\fR after it began (\fB500ms\fR, \fB2s\fR; a number with no
time unit is bytes, and \fB10m\fR is 10 MiB: say \fB10min\fR). \fB\-v\fR:
\fBPEER: reset down at byte 1000\fR or \fBPEER: reset after 2s (at byte
5 up, 7 down)\fR (JSON: \fBfault\fR \fBreset\fR, \fBat_byte\fR, or
\fBafter_ms\fR with \fBat_byte_up\fR and \fBat_byte_down\fR). Not with
\fB\-\-cut\-after\fR.
.TP
\fB\-\-delay\fR \fIDUR\fR[\fB~\fR\fIJITTER\fR]
Hold every chunk each way for \fIDUR\fR (\fB200ms\fR), or for \fIDUR\fR
plus or minus up to \fIJITTER\fR, drawn per chunk (\fB200ms~50ms\fR;
\fB\-\-seed\fR repeats the draws). The bytes keep their order (a chunk
never goes before the one ahead of it), and the end of the stream follows
the last. Each way holds at most 256 KiB: when that is full the sender's
bytes wait in its socket, so memory stays bounded and the throughput of a
delayed way is at most 256 KiB per \fIDUR\fR. \fB\-v\fR: \fBPEER: delay
200ms ~50ms both ways\fR (JSON: \fBfault\fR \fBdelay\fR,
\fBlatency_ms\fR, \fBjitter_ms\fR).
.TP
\fB\-\-slice\fR \fIBYTES\fR[\fB/\fR\fIDUR\fR]
Write each way to its destination in pieces of at most \fIBYTES\fR
(\fB100\fR, \fB1k\fR), \fIDUR\fR apart if given (\fB100/1ms\fR): the
peer reads many small pieces, every byte in order (toxiproxy's slicer,
without its size variation). The rest of a chunk waits in the one buffer
each way has, and the sender's bytes in its socket. \fB\-v\fR: \fBPEER:
slice 100B every 1ms both ways\fR (JSON: \fBfault\fR \fBslice\fR,
\fBbytes\fR, \fBgap_us\fR).
.TP
\fB\-\-slow\-close\fR \fIDUR\fR
Hold the end of each way (its FIN) for \fIDUR\fR after it was read, then
pass it on; the bytes before it pass at once. \fB\-v\fR: \fBPEER: slow
close 2s up\fR (JSON: \fBfault\fR \fBslow_close\fR, \fBhold_ms\fR).
.TP
\fB\-\-blackhole\fR[\fB=\fR\fIDUR\fR]
Drop every byte each way: the sender's writes go through (its window never
fills), the peer receives nothing; an end of stream still passes. For good,
or with \fIDUR\fR (\fB\-\-blackhole=2s\fR: the time needs the \fB=\fR, so
\fB\-\-blackhole\fR alone may stand before the address; \fB0s\fR: for good) until that long after the
connection began, then both sides are closed with a FIN (toxiproxy's
timeout). \fB\-v\fR: \fBPEER: blackhole up\fR, \fBPEER: blackhole both
ways for 2s, then close\fR (JSON: \fBfault\fR \fBblackhole\fR,
\fBfor_ms\fR, null for good).
.TP
\fB\-\-refuse\fR \fIF\fR
Reset a fraction \fIF\fR (0 to 1) of new connections at once, chosen per
connection (\fB\-\-seed\fR repeats the choice, drawn apart from
\fB\-\-fault\-fraction\fR's): the client sees a reset before any byte
and the upstream is never connected for it (a client that retries gets
through). A refused connection gets
no other fault. \fB\-v\fR: \fBPEER: refused (reset at once)\fR (JSON:
\fBfault\fR \fBrefuse\fR).
.TP
\fB\-\-loss\fR \fIP\fR, \fB\-\-duplicate\fR \fIP\fR, \fB\-\-reorder\fR \fIP\fR
On a datagram forward (a \fBudp\fR or \fBunixgram\fR server forwarding to
a datagram address) alone: drop each datagram each way with probability
\fIP\fR (0 to 1), send it twice, or hold it back until the next one has
gone (50ms at most), each drawn per datagram from the session's seeded
draws (\fB\-\-seed\fR repeats which datagrams, in every model).
\fB\-\-delay\fR holds each datagram there too (with a jitter, datagrams
may pass one another, as netem's do). At most 256 KiB of datagrams wait
each way (4096 at most); more are dropped, as a full queue drops them,
and counted as \fBdropped\fR. The stream faults are refused on a
datagram forward, and these on a stream one. \fB\-v\fR: \fBPEER:
datagrams: loss 10% up\fR as a session begins, \fBPEER: datagrams up: 1000
seen, 98 lost, 0 duplicated, 0 reordered\fR as it ends (JSON: \fBfault\fR
\fBdatagrams\fR; \fBdatagrams_done\fR with \fBseen\fR, \fBlost\fR,
\fBduplicated\fR, \fBreordered\fR, \fBdropped\fR, \fBunsaid\fR).
Each datagram a fault applies to is an event too: \fBPEER: loss up:
datagram 7 (64 bytes at byte 384) lost\fR (JSON: \fBfault\fR \fBloss\fR,
\fBduplicate\fR, \fBreorder\fR or \fBqueue\fR (dropped, the queue
full), \fBdirection\fR, \fBdatagram\fR (the first is 1), \fBat_byte\fR,
\fBbytes\fR); the first 32 each way of a session are said, the rest
counted, and the end line says how many were not said.
.TP
\fB\-\-fault\-fraction\fR \fIF\fR
Apply the faults to a fraction \fIF\fR (0 to 1) of the connections, chosen
per connection; the others are forwarded as they are (spliced, no event).
The JSON \fBfault\fR event's \fBconnection\fR is the connection's number
(0 the first the server began).
.TP
\fB\-\-seed\fR \fIN\fR
Make every random choice repeat: with the same \fIN\fR, the same
connections (by number) get the faults in every run and every model. Without
it, the choices differ from run to run.
.TP
\fB\-\-control\fR \fIPATH\fR
Change the faults while the server runs (as toxiproxy's API does): a Unix
socket made at \fIPATH\fR (mode 0600: its owner alone; a live socket
there is never taken over; removed at exit; \fBcontrol socket on
unix:PATH\fR is said after the readiness lines) takes one JSON object a
line and answers each with one (\fB{"ok":true,...}\fR, or
\fB{"ok":false,"error":"..."}\fR, after which the connection stays
open). \fB{"op":"add","fault":"delay","value":"200ms~20ms","dir":"down"}\fR
sets a fault (\fBchange\fR says the same; \fBfault\fR is a flag's name
without \fB\-\-\fR, \fBvalue\fR what the flag takes, \fBdir\fR
\fBup\fR, \fBdown\fR or \fBboth\fR, the default);
\fB{"op":"remove","fault":"delay"}\fR removes it;
\fB{"op":"list"}\fR shows the fault flags the server began with
(\fBflags\fR), the changes in force (\fBchanges\fR) and the
connections begun. \fBscope\fR says for which connections: \fB"all"\fR (the
default: every live one at once, idle or not, and every new one),
\fB"new"\fR (those begun from now on), or a connection's number (the
\fBconnection\fR of its JSON events). A change replaces the fault it
names; a timed one (\fB\-\-reset\-after 1s\fR, \fB\-\-blackhole=1s\fR)
and a byte budget count from the change. No byte is lost: a removed delay
lets what it holds go at once, in order; a changed one keeps its queue.
\fB\-\-seed\fR may go with \fB\-\-control\fR alone: what a change
adds (a jitter, a loss) draws from the connection's seeded draws too. A
server with \fB\-\-control\fR copies every connection (a fault may
come later), and changes reach a blocking model's idle connection within
50ms. \fBsockcat send unix:PATH '{"op":"list"}'\fR is a client: it
prints the answer. A line is at most 4096 bytes; a client that does not
read its answers for a second is dropped.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("64k"), Some(65536));
        assert_eq!(parse_size("64K"), Some(65536));
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("1MB"), Some(1 << 20));
        for bad in ["", "k", "1.5M", "-1", "1x", "1 k", "99999999999999999999"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_rate_may_say_per_second_and_its_burst() {
        let r = |per_sec, burst| Ok(RateArg { per_sec, burst });
        assert_eq!(parse_rate("64k"), r(65536, None));
        assert_eq!(parse_rate("64k/s"), r(65536, None));
        assert_eq!(parse_rate("1M:256k"), r(1 << 20, Some(256 << 10)));
        assert_eq!(parse_rate("1M/s:1"), r(1 << 20, Some(1)));
        assert!(parse_rate("0").unwrap_err().contains("more than 0"));
        assert!(parse_rate("1k:0").unwrap_err().contains("burst"));
        assert!(parse_rate("fast").unwrap_err().contains("64k"));
    }

    #[test]
    fn a_reset_is_after_bytes_or_a_time() {
        use std::time::Duration;
        assert_eq!(parse_reset("1000"), Ok(ResetArg::Bytes(1000)));
        assert_eq!(parse_reset("64k"), Ok(ResetArg::Bytes(65536)));
        assert_eq!(parse_reset("10m"), Ok(ResetArg::Bytes(10 << 20)));
        assert_eq!(
            parse_reset("500ms"),
            Ok(ResetArg::Time(Duration::from_millis(500)))
        );
        assert_eq!(
            parse_reset("2s"),
            Ok(ResetArg::Time(Duration::from_secs(2)))
        );
        assert_eq!(
            parse_reset("10min"),
            Ok(ResetArg::Time(Duration::from_secs(600)))
        );
        for bad in ["", "0s", "soon", "-1"] {
            assert!(parse_reset(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_count("0"), Ok(0));
        assert!(parse_count("1s").is_err());
    }

    #[test]
    fn a_delay_may_have_a_jitter() {
        use std::time::Duration;
        let ms = Duration::from_millis;
        let d = |latency, jitter| Ok(DelayArg { latency, jitter });
        assert_eq!(parse_delay("200ms"), d(ms(200), ms(0)));
        assert_eq!(parse_delay("200ms~50ms"), d(ms(200), ms(50)));
        assert_eq!(parse_delay("0~10ms"), d(ms(0), ms(10)));
        assert_eq!(parse_delay("1"), d(ms(1000), ms(0)));
        for bad in ["0", "0~0", "soon", "200ms~", "~"] {
            assert!(parse_delay(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_slice_is_bytes_and_maybe_a_gap() {
        use std::time::Duration;
        let s = |bytes, gap| Ok(SliceArg { bytes, gap });
        assert_eq!(parse_slice("100"), s(100, Duration::ZERO));
        assert_eq!(parse_slice("1k/10ms"), s(1024, Duration::from_millis(10)));
        assert_eq!(parse_slice("1/0"), s(1, Duration::ZERO));
        for bad in ["0", "0/1ms", "", "/1ms", "100/", "100/soon", "x"] {
            assert!(parse_slice(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_fraction_is_from_0_to_1() {
        assert_eq!(parse_fraction("0"), Ok(0.0));
        assert_eq!(parse_fraction("0.25"), Ok(0.25));
        assert_eq!(parse_fraction("1"), Ok(1.0));
        for bad in ["-0.1", "1.5", "half", "NaN", ""] {
            assert!(parse_fraction(bad).is_err(), "{bad}");
        }
    }
}
