//! Typed capabilities that journeys, remote commands and the tools use, each over claimed
//! devices: two-phase outputs, the face check, and (with the journeys) the card, the guide
//! lights, the hall catalogue, the queue and the citizen's e-ID code.

pub mod apply;
pub mod card;
pub mod cast;
pub mod catalogue;
pub mod diagnostics;
pub mod eid;
pub mod face;
pub mod guide;
pub mod iccard;
pub mod idcopy;
pub mod materials;
pub mod outputs;
pub mod papers;
pub mod power;
pub mod queue;
pub mod speech;
pub mod spool;
pub mod technicians;
pub mod usb_guard;
