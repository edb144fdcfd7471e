//! Ownership expresses the IRP rules (DESIGN.md property 5): these drivers
//! do not compile. Each case in tests/ui/ has the compiler's message beside
//! it (regenerate with `TRYBUILD=overwrite cargo test --test compile_fail`).

#[test]
fn irp_ownership_rules_are_compile_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
