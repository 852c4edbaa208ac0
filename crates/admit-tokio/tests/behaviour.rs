//! The shared behaviour suite of `admit-runtime`, run on this runtime.

admit_runtime::runtime_tests!(admit_tokio::Tokio);
