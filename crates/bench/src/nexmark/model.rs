//! The three Nexmark record types (`Person`, `Auction`, `Bid`), the [`Event`] that wraps one of
//! them, and their compact JSON encoding.
//!
//! The JSON keys are the upper-case column names of the KSQL streams the benchmark declares
//! (`PERSON`, `AUCTION`, `BID`); times (`DATETIME`, `EXPIRES`) are epoch milliseconds written as
//! JSON numbers. Encoding uses only `std` and appends to a caller-owned buffer, so a producer can
//! reuse one `Vec<u8>` for every record.

/// A new user of the auction site.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub email_address: String,
    pub credit_card: String,
    pub city: String,
    pub state: String,
    /// Event time, epoch milliseconds.
    pub date_time: i64,
    pub extra: String,
}

/// An item put up for auction by a person.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Auction {
    pub id: i64,
    pub item_name: String,
    pub description: String,
    /// Cents.
    pub initial_bid: i64,
    /// Cents; never below `initial_bid`.
    pub reserve: i64,
    /// Event time, epoch milliseconds.
    pub date_time: i64,
    /// End of the auction, epoch milliseconds; always after `date_time`.
    pub expires: i64,
    /// `Person::id` of the seller.
    pub seller: i64,
    pub category: i64,
    pub extra: String,
}

/// A bid on an auction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bid {
    /// `Auction::id` bid on.
    pub auction: i64,
    /// `Person::id` of the bidder.
    pub bidder: i64,
    /// Cents.
    pub price: i64,
    pub channel: String,
    pub url: String,
    /// Event time, epoch milliseconds.
    pub date_time: i64,
    pub extra: String,
}

/// Which of the three record types an [`Event`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Person,
    Auction,
    Bid,
}

impl EventKind {
    /// The KSQL stream name conventionally used for this kind (`PERSON`, `AUCTION`, `BID`).
    pub fn stream_name(self) -> &'static str {
        match self {
            EventKind::Person => "PERSON",
            EventKind::Auction => "AUCTION",
            EventKind::Bid => "BID",
        }
    }
}

/// One generated Nexmark event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Event {
    Person(Person),
    Auction(Auction),
    Bid(Bid),
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Person(_) => EventKind::Person,
            Event::Auction(_) => EventKind::Auction,
            Event::Bid(_) => EventKind::Bid,
        }
    }

    /// Event time of the record, epoch milliseconds.
    pub fn date_time(&self) -> i64 {
        match self {
            Event::Person(p) => p.date_time,
            Event::Auction(a) => a.date_time,
            Event::Bid(b) => b.date_time,
        }
    }

    /// Sets the event time (the latency run stamps events with the time they are sent).
    pub fn set_date_time(&mut self, t: i64) {
        match self {
            Event::Person(p) => p.date_time = t,
            Event::Auction(a) => a.date_time = t,
            Event::Bid(b) => b.date_time = t,
        }
    }

    /// Appends the record's JSON object (without the kind wrapper) to `out`.
    pub fn to_json(&self, out: &mut Vec<u8>) {
        match self {
            Event::Person(p) => p.to_json(out),
            Event::Auction(a) => a.to_json(out),
            Event::Bid(b) => b.to_json(out),
        }
    }

    /// The record's JSON object as a `String`.
    pub fn to_json_string(&self) -> String {
        let mut out = Vec::with_capacity(256);
        self.to_json(&mut out);
        // Only ASCII punctuation is added around strings that were valid UTF-8.
        String::from_utf8(out).expect("JSON output is UTF-8")
    }

    /// Beam's idealised record size (its `KnownSize::sizeInBytes`), the quantity the
    /// `avg*ByteSize` settings aim at.
    pub fn size_in_bytes(&self) -> i64 {
        match self {
            Event::Person(p) => p.size_in_bytes(),
            Event::Auction(a) => a.size_in_bytes(),
            Event::Bid(b) => b.size_in_bytes(),
        }
    }
}

impl Person {
    pub fn to_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        put_key(out, "ID", true);
        put_i64(out, self.id);
        put_key(out, "NAME", false);
        put_str(out, &self.name);
        put_key(out, "EMAILADDRESS", false);
        put_str(out, &self.email_address);
        put_key(out, "CREDITCARD", false);
        put_str(out, &self.credit_card);
        put_key(out, "CITY", false);
        put_str(out, &self.city);
        put_key(out, "STATE", false);
        put_str(out, &self.state);
        put_key(out, "DATETIME", false);
        put_i64(out, self.date_time);
        put_key(out, "EXTRA", false);
        put_str(out, &self.extra);
        out.push(b'}');
    }

    /// Beam's `Person.sizeInBytes`: 8 bytes per number or time, string lengths plus one.
    pub fn size_in_bytes(&self) -> i64 {
        8 + self.name.len() as i64
            + 1
            + self.email_address.len() as i64
            + 1
            + self.credit_card.len() as i64
            + 1
            + self.city.len() as i64
            + 1
            + self.state.len() as i64
            + 8
            + 1
            + self.extra.len() as i64
            + 1
    }
}

impl Auction {
    pub fn to_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        put_key(out, "ID", true);
        put_i64(out, self.id);
        put_key(out, "ITEMNAME", false);
        put_str(out, &self.item_name);
        put_key(out, "DESCRIPTION", false);
        put_str(out, &self.description);
        put_key(out, "INITIALBID", false);
        put_i64(out, self.initial_bid);
        put_key(out, "RESERVE", false);
        put_i64(out, self.reserve);
        put_key(out, "DATETIME", false);
        put_i64(out, self.date_time);
        put_key(out, "EXPIRES", false);
        put_i64(out, self.expires);
        put_key(out, "SELLER", false);
        put_i64(out, self.seller);
        put_key(out, "CATEGORY", false);
        put_i64(out, self.category);
        put_key(out, "EXTRA", false);
        put_str(out, &self.extra);
        out.push(b'}');
    }

    /// Beam's `Auction.sizeInBytes`.
    pub fn size_in_bytes(&self) -> i64 {
        8 + self.item_name.len() as i64
            + 1
            + self.description.len() as i64
            + 1
            + 8 * 6
            + self.extra.len() as i64
            + 1
    }
}

impl Bid {
    pub fn to_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        put_key(out, "AUCTION", true);
        put_i64(out, self.auction);
        put_key(out, "BIDDER", false);
        put_i64(out, self.bidder);
        put_key(out, "PRICE", false);
        put_i64(out, self.price);
        put_key(out, "CHANNEL", false);
        put_str(out, &self.channel);
        put_key(out, "URL", false);
        put_str(out, &self.url);
        put_key(out, "DATETIME", false);
        put_i64(out, self.date_time);
        put_key(out, "EXTRA", false);
        put_str(out, &self.extra);
        out.push(b'}');
    }

    /// Beam's `Bid.sizeInBytes` (Beam's bids have no channel or url, so those are not counted).
    pub fn size_in_bytes(&self) -> i64 {
        8 + 8 + 8 + 8 + self.extra.len() as i64 + 1
    }
}

/// Writes `"KEY":`, preceded by a comma unless it is the object's first key. Keys are plain
/// ASCII identifiers and need no escaping.
fn put_key(out: &mut Vec<u8>, key: &str, first: bool) {
    if !first {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Writes a decimal integer.
fn put_i64(out: &mut Vec<u8>, value: i64) {
    let mut digits = [0u8; 20];
    let mut pos = digits.len();
    let mut rest: u64 = value.unsigned_abs();
    loop {
        pos -= 1;
        digits[pos] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[pos..]);
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Writes a JSON string literal, escaping quotes, backslashes and control characters. Other
/// characters (including non-ASCII UTF-8) are copied as they are.
fn put_str(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let needs_escape = b == b'"' || b == b'\\' || b < 0x20;
        if !needs_escape {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX_DIGITS[(b >> 4) as usize]);
                out.push(HEX_DIGITS[(b & 0x0f) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(event: &Event) -> String {
        event.to_json_string()
    }

    fn sample_person() -> Person {
        Person {
            id: 1000,
            name: "Peter Jones".to_string(),
            email_address: "abc@def.com".to_string(),
            credit_card: "0001 2345 6789 0000".to_string(),
            city: "Los Angeles".to_string(),
            state: "CA".to_string(),
            date_time: 1_767_225_600_000,
            extra: "x\"y\\z".to_string(),
        }
    }

    #[test]
    fn person_json_has_ksql_keys_in_order() {
        let json = json_of(&Event::Person(sample_person()));
        assert_eq!(
            json,
            "{\"ID\":1000,\"NAME\":\"Peter Jones\",\"EMAILADDRESS\":\"abc@def.com\",\
             \"CREDITCARD\":\"0001 2345 6789 0000\",\"CITY\":\"Los Angeles\",\"STATE\":\"CA\",\
             \"DATETIME\":1767225600000,\"EXTRA\":\"x\\\"y\\\\z\"}"
        );
    }

    #[test]
    fn auction_json_has_ksql_keys_in_order() {
        let auction = Auction {
            id: 1001,
            item_name: "item".to_string(),
            description: "desc".to_string(),
            initial_bid: 100,
            reserve: 250,
            date_time: 5,
            expires: 17,
            seller: 1000,
            category: 12,
            extra: String::new(),
        };
        assert_eq!(
            json_of(&Event::Auction(auction)),
            "{\"ID\":1001,\"ITEMNAME\":\"item\",\"DESCRIPTION\":\"desc\",\"INITIALBID\":100,\
             \"RESERVE\":250,\"DATETIME\":5,\"EXPIRES\":17,\"SELLER\":1000,\"CATEGORY\":12,\
             \"EXTRA\":\"\"}"
        );
    }

    #[test]
    fn bid_json_has_ksql_keys_in_order() {
        let bid = Bid {
            auction: 1000,
            bidder: 1001,
            price: -42,
            channel: "Google".to_string(),
            url: "https://www.nexmark.com/a/b/c/item.htm?query=1".to_string(),
            date_time: 0,
            extra: "tab\there\u{1}".to_string(),
        };
        assert_eq!(
            json_of(&Event::Bid(bid)),
            "{\"AUCTION\":1000,\"BIDDER\":1001,\"PRICE\":-42,\"CHANNEL\":\"Google\",\
             \"URL\":\"https://www.nexmark.com/a/b/c/item.htm?query=1\",\"DATETIME\":0,\
             \"EXTRA\":\"tab\\there\\u0001\"}"
        );
    }

    #[test]
    fn json_output_parses_with_serde_json() {
        // serde_json is a dependency of this crate; use it only to check the hand-written output.
        let event = Event::Person(sample_person());
        let value: serde_json::Value =
            serde_json::from_str(&event.to_json_string()).expect("valid JSON");
        assert_eq!(value["EXTRA"], "x\"y\\z");
        assert_eq!(value["ID"], 1000i64);
        assert_eq!(value["DATETIME"], 1_767_225_600_000i64);
    }

    #[test]
    fn integers_render_like_java() {
        let mut out = Vec::new();
        put_i64(&mut out, 0);
        out.push(b' ');
        put_i64(&mut out, i64::MIN);
        out.push(b' ');
        put_i64(&mut out, i64::MAX);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "0 -9223372036854775808 9223372036854775807"
        );
    }

    #[test]
    fn sizes_follow_beam_formulas() {
        let person = sample_person();
        // 8 + 11+1 + 11+1 + 19+1 + 11+1 + 2 + 8 + 1 + 5+1
        assert_eq!(person.size_in_bytes(), 81);
        let bid = Bid {
            auction: 1,
            bidder: 2,
            price: 3,
            channel: "c".to_string(),
            url: "u".to_string(),
            date_time: 4,
            extra: "abcd".to_string(),
        };
        assert_eq!(bid.size_in_bytes(), 37);
    }

    #[test]
    fn event_accessors() {
        let event = Event::Person(sample_person());
        assert_eq!(event.kind(), EventKind::Person);
        assert_eq!(event.kind().stream_name(), "PERSON");
        assert_eq!(event.date_time(), 1_767_225_600_000);
    }
}
