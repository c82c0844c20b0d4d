//! `--proxy-protocol` in serve's loop: a new connection's first stage is
//! its PROXY protocol header, a `transport::proxy_protocol::Reading`
//! stepped on the socket's events and at its deadline, before TLS and
//! before its handler begins; what it read is admitted by the rule every
//! model shares (`handler::proxied::admit`).

use super::*;
use crate::transport::proxy_protocol::Reading;

impl EventLoop {
    /// A connection taken from a trusted balancer: its header read first
    /// (the loop wakes for it at its deadline).
    pub(super) fn await_header(&mut self, conn: &mut Conn, id: usize, now: Instant) {
        let idle = self.server.service.settings.drive.idle;
        let reading = Reading::new(now, idle);
        self.timers
            .push(std::cmp::Reverse((reading.deadline(), id)));
        conn.header = Some(Box::new(reading));
    }

    /// The header's step: `true` once it is read and its client admitted
    /// (the connection has begun), `false` while it waits or after a
    /// refusal (the connection then ends, with its one event said).
    pub(super) fn header_step(&mut self, c: &mut Conn, id: usize) -> bool {
        let (Some(reading), Some(rule)) = (
            c.header.as_mut(),
            self.server.service.settings.drive.proxy_protocol.clone(),
        ) else {
            return true;
        };
        let read = match reading.step(&c.stream, Instant::now()) {
            Ok(None) => return false,
            Ok(Some(h)) => Ok(h),
            Err(why) => Err(why),
        };
        c.header = None;
        let log = &self.server.service.settings.log;
        match crate::handler::proxied::admit(&rule, log, &c.stream, &c.peer, read) {
            Ok(peer) => {
                c.peer = peer;
                self.begin(c, id);
                true
            }
            Err(peer) => {
                c.peer = peer;
                c.talk = Some(Conversation::over());
                false
            }
        }
    }
}
