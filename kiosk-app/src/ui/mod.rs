//! The screen: binding the runtime's and the flows' state to the Slint globals, the window on a
//! display, and the software renderer for screenshots and tours. The UI reads state and sends
//! intents; it decides nothing.

pub mod desk;
pub mod view;
pub mod view_admin;
pub mod view_apply;
pub mod view_copy;
pub mod view_papers;
pub mod view_query;
pub mod voice;
pub mod watchdog;
pub mod window;
