#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| calypso_fuzz::kql_plan(data));
