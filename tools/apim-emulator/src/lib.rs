//! apim-emulator as a library: the binary (`main.rs`) is the command line around it, and the
//! fuzz targets reach the policy loader through it.

pub mod declarations;
pub mod gateway;
pub mod policy;
pub mod responses;
pub mod settings;
pub mod template;
