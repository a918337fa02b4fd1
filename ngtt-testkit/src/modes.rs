//! [`both_modes!`](crate::both_modes): one async scenario, one test per device mode.

/// For each `name`, a module `name` with two tests, `ngtt` and `http`, running
/// `super::name(Mode::Ngtt)` and `super::name(Mode::Http)` on a two-thread runtime. The calling
/// module must have a `Mode` type in scope with those two variants.
///
/// ```ignore
/// both_modes!(orders_are_executed, uploads_are_stored);
/// async fn orders_are_executed(mode: Mode) { /* … */ }
/// ```
#[macro_export]
macro_rules! both_modes {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::Mode;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn ngtt() {
                super::$name(Mode::Ngtt).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn http() {
                super::$name(Mode::Http).await
            }
        }
    )*};
}
