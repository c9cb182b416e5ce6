//! Binary encoding of a [`Positions`] map, stored as one value so that it is
//! read and replaced atomically.
//!
//! Layout: a version byte, then per entry `u32` topic length (big endian),
//! the topic's UTF-8 bytes, `i32` partition, `i64` next offset.

use crate::batch::Positions;

const VERSION: u8 = 1;

pub(crate) fn encode(positions: &Positions) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + positions.len() * 24);
    out.push(VERSION);
    for ((topic, partition), offset) in positions {
        out.extend_from_slice(&(topic.len() as u32).to_be_bytes());
        out.extend_from_slice(topic.as_bytes());
        out.extend_from_slice(&partition.to_be_bytes());
        out.extend_from_slice(&offset.to_be_bytes());
    }
    out
}

/// Decode, or describe why the bytes are not a valid encoding.
pub(crate) fn decode(bytes: &[u8]) -> Result<Positions, String> {
    let (&version, mut rest) = bytes
        .split_first()
        .ok_or_else(|| "empty positions record".to_string())?;
    if version != VERSION {
        return Err(format!("unknown positions record version {version}"));
    }
    let mut out = Positions::new();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(take::<4>(&mut rest)?) as usize;
        if rest.len() < len {
            return Err("truncated topic name in positions record".into());
        }
        let (topic, tail) = rest.split_at(len);
        rest = tail;
        let topic = std::str::from_utf8(topic)
            .map_err(|e| format!("topic name in positions record is not UTF-8: {e}"))?
            .to_string();
        let partition = i32::from_be_bytes(take::<4>(&mut rest)?);
        let offset = i64::from_be_bytes(take::<8>(&mut rest)?);
        out.insert((topic, partition), offset);
    }
    Ok(out)
}

fn take<const N: usize>(rest: &mut &[u8]) -> Result<[u8; N], String> {
    if rest.len() < N {
        return Err("truncated positions record".into());
    }
    let (head, tail) = rest.split_at(N);
    *rest = tail;
    Ok(head.try_into().expect("length checked"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut p = Positions::new();
        p.insert(("orders".into(), 0), 42);
        p.insert(("".into(), -3), i64::MIN);
        p.insert(("t\u{e9}".into(), i32::MAX), 0);
        assert_eq!(decode(&encode(&p)).unwrap(), p);
        assert_eq!(
            decode(&encode(&Positions::new())).unwrap(),
            Positions::new()
        );
    }

    #[test]
    fn rejects_damaged_records() {
        let mut p = Positions::new();
        p.insert(("orders".into(), 1), 7);
        let bytes = encode(&p);
        for cut in 0..bytes.len() {
            if cut == 1 {
                continue; // version byte alone is a valid empty map
            }
            assert!(
                decode(&bytes[..cut]).is_err(),
                "prefix of {cut} bytes accepted"
            );
        }
        let mut bad = bytes.clone();
        bad[0] = 9;
        assert!(decode(&bad).unwrap_err().contains("version"));
    }
}
