//! `sluice-bench`: see the crate docs.

use std::io::Write;

use clap::{Parser, Subcommand};
use sluice_bench::nexmark::{Event, Generator, GeneratorConfig};

#[derive(Parser)]
#[command(name = "sluice-bench", about = "Sluice's benchmark tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print Nexmark events as JSON lines: `<kind>\t<json>` (kind: person, auction or bid).
    Generate {
        /// How many events.
        #[arg(long, default_value_t = 100)]
        events: u64,
        /// Events per second of event time (spacing of the event timestamps).
        #[arg(long, default_value_t = 10_000)]
        rate: i64,
    },
}

fn main() -> std::io::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Generate { events, rate } => {
            let config = GeneratorConfig {
                first_event_rate: rate,
                ..GeneratorConfig::default()
            };
            let out = std::io::stdout();
            let mut out = std::io::BufWriter::new(out.lock());
            let mut buf = Vec::with_capacity(1024);
            for event in Generator::new(config).take(events as usize) {
                buf.clear();
                let kind = match &event {
                    Event::Person(p) => {
                        p.to_json(&mut buf);
                        "person"
                    }
                    Event::Auction(a) => {
                        a.to_json(&mut buf);
                        "auction"
                    }
                    Event::Bid(b) => {
                        b.to_json(&mut buf);
                        "bid"
                    }
                };
                out.write_all(kind.as_bytes())?;
                out.write_all(b"\t")?;
                out.write_all(&buf)?;
                out.write_all(b"\n")?;
            }
            out.flush()
        }
    }
}
