//! Writing the test's input records with exactly the timestamps the corpus gives.
//!
//! ksqlDB's test driver writes every input record with its timestamp, or 0 when none is given,
//! to partition 0 unless told otherwise. librdkafka cannot write a timestamp of 0: it replaces
//! 0 with the current time. So inputs are written with a minimal Kafka Produce request (v3,
//! one RecordBatch v2 per record, `acks=-1`) sent straight to the broker that leads every
//! partition — the runner only talks to the single-broker embedded cluster. Nothing else in
//! the runner speaks the protocol by hand.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One record to write.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    pub topic: String,
    pub partition: i32,
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// A connection to a broker that accepts Produce requests.
pub struct RawProducer {
    stream: TcpStream,
    correlation: i32,
}

impl RawProducer {
    /// Connects to the first of `bootstrap` (`host:port[,host:port...]`).
    pub async fn connect(bootstrap: &str) -> Result<Self, String> {
        let addr = bootstrap.split(',').next().unwrap_or(bootstrap);
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream.set_nodelay(true).ok();
        Ok(RawProducer {
            stream,
            correlation: 0,
        })
    }

    /// Writes one record and waits for the broker's acknowledgement; returns its offset.
    pub async fn send(&mut self, r: &RawRecord) -> Result<i64, String> {
        self.correlation += 1;
        let request = produce_request(self.correlation, r);
        self.stream
            .write_all(&request)
            .await
            .map_err(|e| format!("produce to {}: {e}", r.topic))?;
        let mut len = [0u8; 4];
        self.stream
            .read_exact(&mut len)
            .await
            .map_err(|e| format!("produce to {}: {e}", r.topic))?;
        let mut body = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
        self.stream
            .read_exact(&mut body)
            .await
            .map_err(|e| format!("produce to {}: {e}", r.topic))?;
        parse_response(&body, self.correlation).map_err(|e| format!("produce to {}: {e}", r.topic))
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        if z < 0x80 {
            out.push(z as u8);
            return;
        }
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
}

fn put_varbytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i64);
            out.extend_from_slice(b);
        }
    }
}

/// A RecordBatch (magic 2) holding `r` alone.
fn record_batch(r: &RawRecord) -> Vec<u8> {
    let mut rec = Vec::new();
    rec.push(0); // attributes
    put_varint(&mut rec, 0); // timestamp delta
    put_varint(&mut rec, 0); // offset delta
    put_varbytes(&mut rec, r.key.as_deref());
    put_varbytes(&mut rec, r.value.as_deref());
    put_varint(&mut rec, r.headers.len() as i64);
    for (k, v) in &r.headers {
        put_varbytes(&mut rec, Some(k.as_bytes()));
        put_varbytes(&mut rec, v.as_deref());
    }
    let mut records = Vec::new();
    put_varint(&mut records, rec.len() as i64);
    records.extend_from_slice(&rec);

    // From `attributes` to the end: the part the CRC covers.
    let mut tail = Vec::new();
    tail.extend_from_slice(&0i16.to_be_bytes()); // attributes: no compression, CreateTime
    tail.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
    tail.extend_from_slice(&r.timestamp.to_be_bytes()); // base timestamp
    tail.extend_from_slice(&r.timestamp.to_be_bytes()); // max timestamp
    tail.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    tail.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    tail.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    tail.extend_from_slice(&1i32.to_be_bytes()); // record count
    tail.extend_from_slice(&records);

    let mut batch = Vec::new();
    batch.extend_from_slice(&0i64.to_be_bytes()); // base offset
    let length = 4 + 1 + 4 + tail.len(); // leader epoch, magic, crc, rest
    batch.extend_from_slice(&(length as i32).to_be_bytes());
    batch.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    batch.push(2); // magic
    batch.extend_from_slice(&crc32c(&tail).to_be_bytes());
    batch.extend_from_slice(&tail);
    batch
}

fn produce_request(correlation: i32, r: &RawRecord) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0i16.to_be_bytes()); // api key: Produce
    body.extend_from_slice(&3i16.to_be_bytes()); // api version
    body.extend_from_slice(&correlation.to_be_bytes());
    put_str(&mut body, "sluice-conformance");
    body.extend_from_slice(&(-1i16).to_be_bytes()); // transactional id: null
    body.extend_from_slice(&(-1i16).to_be_bytes()); // acks: all
    body.extend_from_slice(&30_000i32.to_be_bytes()); // timeout
    body.extend_from_slice(&1i32.to_be_bytes()); // one topic
    put_str(&mut body, &r.topic);
    body.extend_from_slice(&1i32.to_be_bytes()); // one partition
    body.extend_from_slice(&r.partition.to_be_bytes());
    let batch = record_batch(r);
    body.extend_from_slice(&(batch.len() as i32).to_be_bytes());
    body.extend_from_slice(&batch);
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// Reads a Produce v3 response for one topic and partition: the base offset, or the error.
fn parse_response(b: &[u8], correlation: i32) -> Result<i64, String> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8], String> {
        let s = b.get(at..at + n).ok_or("short Produce response")?;
        at += n;
        Ok(s)
    };
    let corr = i32::from_be_bytes(take(4)?.try_into().expect("4"));
    if corr != correlation {
        return Err(format!(
            "response to request {corr}, expected {correlation}"
        ));
    }
    let _topics = take(4)?;
    let name_len = i16::from_be_bytes(take(2)?.try_into().expect("2")).max(0) as usize;
    let _name = take(name_len)?;
    let _partitions = take(4)?;
    let _partition = take(4)?;
    let error = i16::from_be_bytes(take(2)?.try_into().expect("2"));
    let offset = i64::from_be_bytes(take(8)?.try_into().expect("8"));
    if error != 0 {
        return Err(format!("broker error code {error}"));
    }
    Ok(offset)
}

/// CRC-32C (Castagnoli), as RecordBatch v2 uses.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // The standard check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn varints_are_zigzag() {
        let mut v = Vec::new();
        put_varint(&mut v, -1);
        put_varint(&mut v, 1);
        put_varint(&mut v, 300);
        assert_eq!(v, vec![0x01, 0x02, 0xd8, 0x04]);
    }

    #[test]
    fn batch_layout() {
        let r = RawRecord {
            topic: "t".into(),
            partition: 0,
            timestamp: 0,
            key: None,
            value: Some(b"v".to_vec()),
            headers: vec![("h".into(), None)],
        };
        let b = record_batch(&r);
        let length = i32::from_be_bytes(b[8..12].try_into().unwrap()) as usize;
        assert_eq!(length + 12, b.len());
        assert_eq!(b[16], 2, "magic");
        let crc = u32::from_be_bytes(b[17..21].try_into().unwrap());
        assert_eq!(crc, crc32c(&b[21..]));
    }
}
