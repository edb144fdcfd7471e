//! `tracing` sees every DebugPrint line, in every machine mode. Its own
//! test binary: the collector is the process's global subscriber, so no
//! other test's threads race with it for `tracing`'s per-callsite interest
//! (a scoped subscriber in a binary of parallel tests is not reliable).

use std::sync::Arc;

use wdmsim::Machine;
use wdmsim::drivers::debugprint::client::{DebugPrint, DpArg};
use wdmsim::sync::Mutex;

/// A `tracing` subscriber that keeps each event's target, `driver` field
/// and message.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<(String, String, String)>>>);

#[derive(Default)]
struct Fields {
    driver: String,
    message: String,
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "driver" {
            self.driver = value.to_string();
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "driver" => self.driver = format!("{value:?}"),
            _ => {}
        }
    }
}

impl tracing::Subscriber for Collector {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let target = event.metadata().target().to_string();
        self.0.lock().push((target, fields.driver, fields.message));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

static TRACED: DebugPrint = DebugPrint::for_driver("Traced");

/// Every DebugPrint call is a `tracing` event (target `wdmsim::driver`, the
/// driver in a field), with or without the DebugPrint device's checked
/// build, simulated or on real threads, where a free build's call nobody
/// listens to returns at once.
#[test]
fn tracing_sees_every_trace_line_in_every_mode() {
    let machines = [
        Machine::sim().processors(2),
        Machine::sim().processors(2).debug_print(true),
        Machine::threaded().processors(2),
        Machine::threaded().processors(2).debug_print(true),
    ];
    let collector = Collector::default();
    let seen = collector.0.clone();
    tracing::subscriber::set_global_default(collector).expect("the global subscriber");
    for machine in machines {
        seen.lock().clear();
        let run = machine.run(|| {
            TRACED.init();
            TRACED.msg(b"plain");
            TRACED.print(b"%d bytes", &[DpArg::I32(4)]);
            TRACED.close();
        });
        assert!(run.is_ok(), "{}", run.report());
        let lines: Vec<(String, String, String)> = seen
            .lock()
            .iter()
            .filter(|(target, _, _)| target == "wdmsim::driver")
            .cloned()
            .collect();
        let on = machine.replay_line().contains("debug_print(true)");
        let expected: Vec<&str> = match on {
            true => {
                vec!["DebugPrint logging started", "plain", "4 bytes", "DebugPrint logging ended"]
            }
            false => vec!["plain", "4 bytes"],
        };
        let messages: Vec<&str> = lines.iter().map(|(_, _, m)| m.as_str()).collect();
        assert_eq!(messages, expected, "{machine}");
        assert!(lines.iter().all(|(_, driver, _)| driver == "Traced"), "{lines:?}");
    }
}
