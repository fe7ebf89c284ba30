//! The CORBA⇄SOAP bridge.
//!
//! Today this is [`mapping`]: the interface mappings both ways, IDL to
//! WSDL (OMG "CORBA to WSDL/SOAP Interworking" 1.2.1) and WSDL to IDL
//! (OMG "WSDL/SOAP to CORBA Interworking" 1.0), as a library with a
//! mapping table for the runtime bridge, and behind `ithaca idl2wsdl` and
//! `ithaca wsdl2idl`.
//!
//! The runtime bridge: [`iiopfront`] publishes SOAP services as CORBA
//! objects on the gateway's IIOP listener (DSI style, driven by the IDL
//! `wsdl_to_idl` derives), and [`soapfront`] hosts CORBA objects as SOAP
//! services.

mod flat_xml;
pub mod iiopfront;
pub mod mapping;
pub mod soapfront;
