//! A screen rendered to PNG by the software renderer, with real CJK glyphs.

use kiosk_ui::{DeviceLine, HeadlessWindow, Language, ScreenId, TerminalTexts, Ui, UiView};

#[test]
fn device_status_renders_with_glyphs() {
    let (w, h) = kiosk_ui::window_size(false);
    let window = HeadlessWindow::install(w, h).unwrap();
    let texts = TerminalTexts {
        service_point: "昆山市政务服务中心".into(),
        device_id: "KSK-320583-0001".into(),
        fault_phone: "0512-5555-1234".into(),
        title: None,
    };
    let ui = Ui::new(&texts, Language::ZhCn, false).unwrap();
    ui.set_devices(&[DeviceLine {
        id: "scanner".into(),
        name: "扫码器".into(),
        kind: "qr-scanner".into(),
        health: "online".into(),
        state: "normal".into(),
        detail: String::new(),
        transport: "/dev/ttyACM0 @115200".into(),
    }]);
    ui.show_view(&UiView {
        screen: ScreenId::DeviceStatus,
        ..UiView::default()
    })
    .unwrap();
    ui.show().unwrap();
    let rgb = window.render();
    assert_eq!(rgb.len(), (w * h * 3) as usize);
    let px = |x: u32, y: u32| {
        let i = ((y * w + x) * 3) as usize;
        (rgb[i], rgb[i + 1], rgb[i + 2])
    };
    // The header is the brand blue, the page background is light.
    assert_eq!(px(400, 10), (0x0b, 0x4f, 0x9c));
    assert_eq!(px(w / 2, h / 2 + 200), (0xee, 0xf2, 0xf8));
    // Text was drawn in the header: white glyph pixels exist on the blue band.
    let white_in_header = (0..120)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| px(x, y) == (255, 255, 255))
        .count();
    assert!(
        white_in_header > 500,
        "no glyphs rendered in the header ({white_in_header} white pixels)"
    );
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("device-status.png");
    window.render_png(&out).unwrap();
    // The remote screenshot reads the same frame from the window.
    let (sw, sh, png) = kiosk_ui::snapshot_png(&ui.app).unwrap();
    assert_eq!((sw, sh), (w, h));
    assert_eq!(&png[1..4], b"PNG");
    assert!(png.len() > 10_000, "{} bytes", png.len());
    let meta = std::fs::metadata(&out).unwrap();
    assert!(
        meta.len() > 10_000,
        "PNG is suspiciously small: {} bytes",
        meta.len()
    );
}
