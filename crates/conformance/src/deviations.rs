//! Deliberate deviations: corpus tests Sluice fails on purpose, mostly because it goes beyond
//! ksqlDB where ksqlDB answers with an error. The report lists them with their reasons and
//! current status; they count as failures like any other (the ratchet does not hold them).

/// (variant id, why Sluice differs).
pub const DEVIATIONS: &[(&str, &str)] = &[
    (
        "query-validation-tests/joins.json / should not allow complex join conditions / -",
        "Sluice accepts an ON clause of several equalities joined by AND (issue 5); ksqlDB refuses it",
    ),
    (
        "query-validation-tests/multi-col-keys.json / join on multi-column key / -",
        "Sluice accepts an ON clause of several equalities joined by AND (issue 5); ksqlDB refuses it",
    ),
    (
        "query-validation-tests/group-by.json / windowed join with window bounds / -",
        "Sluice lets a windowed aggregation over a join select WINDOWSTART and WINDOWEND (issue 5); ksqlDB cannot resolve them there, a bug it tracks (confluentinc/ksql#5931)",
    ),
    (
        "query-validation-tests/joins.json / table join pipeline / JSON",
        "the runner creates a topic declared without PARTITIONS with 1 partition, where ksqlDB's test harness gives it 4; joining INNER_JOIN (PARTITIONS=4) with it then fails ksqlDB's co-partitioning check (issue 5), as it would in ksqlDB on such topics",
    ),
];

/// Why the variant `id` is a deliberate deviation, if it is one.
pub fn reason(id: &str) -> Option<&'static str> {
    DEVIATIONS.iter().find(|(d, _)| *d == id).map(|(_, r)| *r)
}
