//! Deliberate deviations: corpus tests Sluice fails on purpose, because it goes beyond ksqlDB
//! where ksqlDB answers with an error. The report lists them with their reasons and current
//! status; they count as failures like any other (the ratchet does not hold them).

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
];

/// Why the variant `id` is a deliberate deviation, if it is one.
pub fn reason(id: &str) -> Option<&'static str> {
    DEVIATIONS.iter().find(|(d, _)| *d == id).map(|(_, r)| *r)
}
