#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| calypso_fuzz::ingest_csv(data));
