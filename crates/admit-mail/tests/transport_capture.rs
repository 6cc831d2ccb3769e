//! CaptureTransport passes the shared transport check.

use std::sync::Arc;

use admit_mail::check::{sample_messages, transport_check};
use admit_mail::{CaptureTransport, Transport};

#[tokio::test]
async fn capture_transport_passes_the_transport_check() {
    let capture = CaptureTransport::new();
    transport_check(&capture, async || capture.messages().iter().map(|m| m.to_rfc5322()).collect()).await;
    assert_eq!(capture.len(), 2);
}

#[tokio::test]
async fn clones_share_one_list_and_take_empties_it() {
    let capture = CaptureTransport::new();
    let shared: Arc<dyn Transport> = Arc::new(capture.clone());
    transport_check(&shared, async || capture.take().iter().map(|m| m.to_rfc5322()).collect()).await;
    assert!(capture.is_empty());
    for message in sample_messages() {
        shared.send(&message).await.unwrap();
    }
    assert_eq!(capture.messages(), sample_messages());
}
