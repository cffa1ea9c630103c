//! Which addresses a health probe may reach. `spec.health.url` is written by tenants, and the
//! operator's network position is not theirs: without a guard, a URL such as
//! `http://169.254.169.254/latest/meta-data/` would have the operator read the node's cloud
//! credentials into a status message, and `http://127.0.0.1:8080/` would probe the operator's own
//! port. Loopback, link-local (cloud metadata included), unspecified, multicast, broadcast and
//! reserved addresses are refused unless `--probe-allow-cidr` lists them; private ranges (10/8,
//! 172.16/12, 192.168/16, fc00::/7) are where in-cluster Services live and stay allowed.
//!
//! The check runs twice: on an IP-literal host before the request, and on every DNS answer (see
//! `resolver`), so a name that resolves to a refused address is refused as well.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why an address is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Loopback,
    LinkLocal,
    CloudMetadata,
    Unspecified,
    Multicast,
    Broadcast,
    Reserved,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::LinkLocal => "link-local",
            Self::CloudMetadata => "cloud metadata",
            Self::Unspecified => "unspecified",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Reserved => "reserved",
        }
    }
}

/// The AWS instance metadata service over IPv6 (inside fc00::/7, which is otherwise allowed).
const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// The kind of address this is, when it is one probes must not reach by default.
pub fn classify(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refusal> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some(Refusal::Loopback)
    } else if ip.is_link_local() {
        // 169.254.169.254 (AWS, GCP, Azure, OpenStack metadata) is the famous one.
        Some(Refusal::LinkLocal)
    } else if a == 0 {
        // 0.0.0.0/8 "this network": 0.0.0.0 reaches the local host on Linux.
        Some(Refusal::Unspecified)
    } else if ip.is_broadcast() {
        Some(Refusal::Broadcast)
    } else if ip.is_multicast() {
        Some(Refusal::Multicast)
    } else if a >= 240 {
        Some(Refusal::Reserved)
    } else if a == 100 && b == 100 && ip.octets()[2..] == [100, 200] {
        // Alibaba Cloud's metadata service sits in the shared 100.64/10 range.
        Some(Refusal::CloudMetadata)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refusal> {
    // An IPv4 address written as IPv6 (::ffff:a.b.c.d, or NAT64's 64:ff9b::a.b.c.d) is judged as
    // the IPv4 address it reaches.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let segments = ip.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [_, _, _, _, _, _, hi, lo] = segments;
        return classify_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    if ip.is_loopback() {
        Some(Refusal::Loopback)
    } else if ip.is_unspecified() {
        Some(Refusal::Unspecified)
    } else if ip == AWS_METADATA_V6 {
        Some(Refusal::CloudMetadata)
    } else if segments[0] & 0xffc0 == 0xfe80 {
        Some(Refusal::LinkLocal)
    } else if ip.is_multicast() {
        Some(Refusal::Multicast)
    } else {
        None
    }
}

/// An address block, as `--probe-allow-cidr` takes it (`127.0.0.1/32`, `fd00::/8`; a bare
/// address is a block of one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), self.prefix, 32)
                    == masked(u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), self.prefix, 128)
                    == masked(u128::from(ip), self.prefix, 128)
            }
            // A mapped IPv4 address is the IPv4 address for the allow-list too.
            (IpAddr::V4(_), IpAddr::V6(ip)) => ip
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

/// The top `prefix` bits of a `width`-bit address.
fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    bits >> (width - prefix)
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("'{text}' is not an address block such as 127.0.0.1/32 or fd00::/8");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.trim().parse().map_err(|_| bad())?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().map_err(|_| bad())?,
            None => width,
        };
        if prefix > width {
            return Err(bad());
        }
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The refused address and why, as a probe's detail says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotAllowed {
    pub ip: IpAddr,
    pub why: Refusal,
}

impl fmt::Display for NotAllowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "address {} is not allowed for health probes ({}); see --probe-allow-cidr",
            self.ip,
            self.why.as_str()
        )
    }
}

impl std::error::Error for NotAllowed {}

/// The addresses probes may reach: everything but the refused kinds, plus the allow-list.
#[derive(Clone, Debug, Default)]
pub struct AddressGuard {
    allowed: Vec<Cidr>,
}

impl AddressGuard {
    pub fn new(allowed: Vec<Cidr>) -> Self {
        Self { allowed }
    }

    pub fn check(&self, ip: IpAddr) -> Result<(), NotAllowed> {
        match classify(ip) {
            Some(why) if !self.allowed.iter().any(|c| c.contains(ip)) => {
                Err(NotAllowed { ip, why })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_operators_own_network_position_is_refused() {
        for (address, why) in [
            ("127.0.0.1", Refusal::Loopback),
            ("127.8.9.10", Refusal::Loopback),
            ("::1", Refusal::Loopback),
            ("169.254.169.254", Refusal::LinkLocal),
            ("169.254.0.1", Refusal::LinkLocal),
            ("fe80::1", Refusal::LinkLocal),
            ("fd00:ec2::254", Refusal::CloudMetadata),
            ("100.100.100.200", Refusal::CloudMetadata),
            ("0.0.0.0", Refusal::Unspecified),
            ("0.1.2.3", Refusal::Unspecified),
            ("::", Refusal::Unspecified),
            ("224.0.0.1", Refusal::Multicast),
            ("ff02::1", Refusal::Multicast),
            ("255.255.255.255", Refusal::Broadcast),
            ("240.0.0.1", Refusal::Reserved),
            ("::ffff:169.254.169.254", Refusal::LinkLocal),
            ("::ffff:127.0.0.1", Refusal::Loopback),
            ("64:ff9b::a9fe:a9fe", Refusal::LinkLocal),
        ] {
            assert_eq!(classify(ip(address)), Some(why), "{address}");
        }
    }

    #[test]
    fn public_and_private_service_addresses_are_allowed() {
        for address in [
            "10.96.0.10",
            "172.16.4.2",
            "192.168.1.1",
            "100.64.0.1",
            "8.8.8.8",
            "fd12:3456::1",
            "2606:4700::1111",
            "::ffff:10.0.0.1",
        ] {
            assert_eq!(classify(ip(address)), None, "{address}");
        }
    }

    #[test]
    fn the_allow_list_lets_listed_blocks_through() {
        let guard = AddressGuard::new(vec!["127.0.0.1/32".parse().unwrap()]);
        assert!(guard.check(ip("127.0.0.1")).is_ok());
        assert!(guard.check(ip("::ffff:127.0.0.1")).is_ok());
        assert!(guard.check(ip("127.0.0.2")).is_err());
        let refused = guard.check(ip("169.254.169.254")).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "address 169.254.169.254 is not allowed for health probes (link-local); see --probe-allow-cidr"
        );
        let wide = AddressGuard::new(vec!["fe80::/10".parse().unwrap()]);
        assert!(wide.check(ip("fe80::abcd")).is_ok());
        assert!(wide.check(ip("::1")).is_err());
    }

    #[test]
    fn address_blocks_parse_strictly() {
        assert_eq!(
            "127.0.0.1".parse::<Cidr>().unwrap().to_string(),
            "127.0.0.1/32"
        );
        assert_eq!(
            "10.0.0.0/8".parse::<Cidr>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("1.2.3.4")));
        for bad in ["", "10.0.0.0/33", "::/129", "localhost", "10.0.0.0/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }
}
