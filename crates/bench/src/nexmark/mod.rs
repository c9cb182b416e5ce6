//! The Nexmark event stream, for benchmarking Sluice.
//!
//! Nexmark models an online auction site as three streams: people registering (`PERSON`),
//! auctions being opened (`AUCTION`) and bids on them (`BID`). Its queries (projections,
//! filters, windowed aggregates, stream-stream joins) are a common yardstick for streaming
//! engines. What makes runs comparable across engines is the *generator*: everybody replays
//! the same synthetic events, produced by the Java generator of Apache Beam's Nexmark suite
//! (`sdks/java/testing/nexmark`), which the Flink-based nexmark/nexmark project also copies.
//!
//! This module is a Rust port of that generator:
//!
//! - [`generator`]: [`GeneratorConfig`] (Beam's `NexmarkConfiguration` settings that shape the
//!   data, with the standard defaults), the id, price, string and padding rules of Beam's
//!   `PersonGenerator`, `AuctionGenerator`, `BidGenerator`, `PriceGenerator`,
//!   `StringsGenerator` and `LongGenerator`, the event-number arithmetic of `GeneratorConfig`
//!   and `Generator`, and [`JavaRandom`], a bit-exact `java.util.Random`, seeded with each
//!   event's id exactly as Beam does. For the same configuration the events are the ones
//!   Beam generates (see the notes below for the exceptions).
//! - [`model`]: [`Person`], [`Auction`], [`Bid`] and [`Event`], with a compact JSON encoding
//!   whose upper-case keys match the benchmark's KSQL column names.
//!
//! # Determinism
//!
//! Every event is a function of the configuration and its event number only, so a
//! [`Generator`] can start at any event number, and [`Generator::split`] /
//! [`Generator::split_ranges`] divide a stream into generators that run concurrently (for
//! example one per Kafka partition) and together produce exactly the unsplit stream.
//!
//! # Differences from Beam
//!
//! - Bids carry `channel` and `url`, as in the newer nexmark/nexmark generator. Beam's bids
//!   lack them, and nexmark/nexmark draws them from an unseeded random and builds its URL table
//!   from another one; here they are drawn from the bid's own seeded random *after* all of
//!   Beam's draws (so every Beam field is unchanged) and the URL table comes from a fixed seed.
//! - Only a constant event rate is supported (Beam's `SQUARE`/`SINE` rate shapes with two
//!   different rates are not), and the default base time is 2026-01-01T00:00:00Z instead of
//!   Beam's 2015-07-15 ([`BEAM_BASE_TIME_MS`] is available).
//! - By default one generator carries the whole rate (100 µs between events at 10,000
//!   events/s); Beam's default spreads it over 100 generators on parallel timelines.
//!   [`GeneratorConfig::num_event_generators`] restores Beam's per-generator spacing.
//! - Splitting keeps the event ids of the unsplit stream; Beam's `GeneratorConfig.split` instead
//!   gives each part its own id range on a timeline starting again at the base time.
//! - Nothing is emitted late or with wallclock pacing; callers decide how fast to publish.

pub mod baseline;
pub mod engine_only;
pub mod generator;
pub mod kafka_io;
pub mod model;
pub mod oracle;
pub mod queries;
pub mod run;
pub mod sustained;

pub use generator::{
    generate_event, Generator, GeneratorConfig, JavaRandom, BEAM_BASE_TIME_MS,
    DEFAULT_BASE_TIME_MS, FIRST_AUCTION_ID, FIRST_CATEGORY_ID, FIRST_PERSON_ID,
};
pub use model::{Auction, Bid, Event, EventKind, Person};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reexports_cover_a_small_run() {
        let config = GeneratorConfig {
            num_events: Some(50),
            ..GeneratorConfig::default()
        };
        let events: Vec<Event> = Generator::new(config.clone()).collect();
        assert_eq!(events.len(), 50);
        assert_eq!(events[0].kind(), EventKind::Person);
        assert_eq!(events[1].kind(), EventKind::Auction);
        assert_eq!(events[4].kind(), EventKind::Bid);
        assert_eq!(events[17], generate_event(&config, 17));
        match &events[0] {
            Event::Person(p) => assert_eq!(p.id, FIRST_PERSON_ID),
            other => panic!("expected a person, got {other:?}"),
        }
        // One reusable buffer for a newline-delimited batch.
        let mut buf = Vec::new();
        for event in &events {
            event.to_json(&mut buf);
            buf.push(b'\n');
        }
        assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 50);
        assert_eq!(buf[0], b'{');
    }
}
