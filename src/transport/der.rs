//! Just enough DER to read what sockcat shows and checks of an X.509
//! certificate (RFC 5280 4.1): its public key (for the `spki-sha256` and
//! curl pins), its subject (for events and programs), and its validity
//! dates. rustls's webpki checks dates on every chain it verifies, but a
//! server certificate that `--cacert` holds byte for byte (a self-signed
//! one from `openssl req -x509`, CA:TRUE) is trusted without a chain, so
//! its dates are checked with [`validity`], as curl checks them. Anything
//! malformed is `None`.

/// tbsCertificate's fields without the optional `[0]` version: serial,
/// signature, issuer, validity, subject, subjectPublicKeyInfo, …
fn fields(cert: &[u8]) -> Option<Vec<&[u8]>> {
    let (tag, certificate, _) = tlv(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, mut tbs, _) = tlv(certificate)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut out = Vec::new();
    while !tbs.is_empty() {
        let (tag, _, rest) = tlv(tbs)?;
        if tag != 0xa0 {
            out.push(&tbs[..tbs.len() - rest.len()]);
        }
        tbs = rest;
    }
    Some(out)
}

/// The subjectPublicKeyInfo, whole (tag and length included).
pub fn spki(cert: &[u8]) -> Option<&[u8]> {
    fields(cert)?.get(5).copied()
}

/// The subject as `CN=…,O=…` (other attributes by their OID in hex).
pub fn subject(cert: &[u8]) -> Option<String> {
    let name = fields(cert)?.get(4).copied()?;
    let (_, mut rdns, _) = tlv(name)?;
    let mut parts = Vec::new();
    while !rdns.is_empty() {
        let (_, set, rest) = tlv(rdns)?;
        let (_, atv, _) = tlv(set)?;
        let (_, oid, after) = tlv(atv)?;
        let (_, value, _) = tlv(after)?;
        let key = match oid {
            [0x55, 0x04, 0x03] => "CN".to_string(),
            [0x55, 0x04, 0x06] => "C".into(),
            [0x55, 0x04, 0x07] => "L".into(),
            [0x55, 0x04, 0x08] => "ST".into(),
            [0x55, 0x04, 0x0a] => "O".into(),
            [0x55, 0x04, 0x0b] => "OU".into(),
            other => other.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        };
        parts.push(format!("{key}={}", String::from_utf8_lossy(value)));
        rdns = rest;
    }
    Some(parts.join(","))
}

/// (notBefore, notAfter) as seconds since the Unix epoch.
pub fn validity(cert: &[u8]) -> Option<(i64, i64)> {
    let f = fields(cert)?;
    // serial, signature and issuer come first: a truncated list is no
    // certificate.
    if f.len() < 6 || tlv(f[0])?.0 != INTEGER || tlv(f[1])?.0 != SEQUENCE {
        return None;
    }
    let (tag, validity, _) = tlv(f[3])?;
    if tag != SEQUENCE {
        return None;
    }
    let (t1, before, rest) = tlv(validity)?;
    let (t2, after, _) = tlv(rest)?;
    Some((time(t1, before)?, time(t2, after)?))
}

const INTEGER: u8 = 0x02;
const SEQUENCE: u8 = 0x30;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// One DER element: its tag, its contents and what follows it.
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, mut b) = b.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        // Long form: the next (first & 0x7f) bytes, big-endian; a
        // certificate's elements never need more than four.
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let (digits, rest) = b.split_at(n);
        b = rest;
        digits
            .iter()
            .fold(0usize, |acc, &d| (acc << 8) | usize::from(d))
    };
    if b.len() < len {
        return None;
    }
    let (contents, rest) = b.split_at(len);
    Some((tag, contents, rest))
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 1950-2049) or GeneralizedTime
/// (`YYYYMMDDHHMMSSZ`), as DER writes them: seconds, and Z.
fn time(tag: u8, s: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(s).ok()?.strip_suffix('Z')?;
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (year, rest) = match (tag, s.len()) {
        (UTC_TIME, 12) => {
            let yy = num(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (GENERALIZED_TIME, 14) => (num(0..4)?, 4),
        _ => return None,
    };
    let at = |i: usize| num(rest + i..rest + i + 2);
    let (month, day, h, m, sec) = (at(0)?, at(2)?, at(4)?, at(6)?, at(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_unix_seconds() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(time(UTC_TIME, b"200101000000Z"), Some(1_577_836_800));
        assert_eq!(time(UTC_TIME, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(time(UTC_TIME, b"500101000000Z"), Some(-631_152_000));
        assert_eq!(
            time(GENERALIZED_TIME, b"20200201000000Z"),
            Some(1_580_515_200)
        );
        for bad in [
            &b"2001010000Z"[..],
            b"200101000000",
            b"201301000000Z",
            b"20x101000000Z",
        ] {
            assert_eq!(time(UTC_TIME, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_generated_certificate_has_the_dates_it_was_made_with() {
        let mut p = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2060, 2, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        assert_eq!(
            validity(cert.der()),
            Some((1_577_836_800, days_from_civil(2060, 2, 1) * 86_400))
        );
        // Cut anywhere, it is no certificate.
        let der = cert.der().to_vec();
        for n in [0, 1, 2, 10, 40, der.len() / 2] {
            assert_eq!(validity(&der[..n]), None, "{n}");
        }
    }
}
