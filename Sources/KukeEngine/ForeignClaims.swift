import KukeModel
import Synchronization

/// A range another network configuration claims: the file and the subnet.
public struct ForeignClaim: Sendable, Equatable {
    public var path: String
    public var subnet: IPv4Subnet

    public init(path: String, subnet: IPv4Subnet) {
        self.path = path
        self.subnet = subnet
    }
}

/// The ranges claimed by the network configurations in CNI directories, read at most once per
/// directory and pass, and only when a pass allocates a subnet. Which of them kuke owns is
/// decided when they are used (a pass creates conflists as it goes).
public final class ForeignClaimCache: Sendable {
    let claimsByDirectory = Mutex<[String: [ForeignClaim]]>([:])

    public init() {}

    /// Every range claimed by a network configuration in `directory`; unreadable or malformed
    /// files claim nothing (the plugins would not load them either).
    public func claims(in directory: String, files: any FileStore) -> [ForeignClaim] {
        if let cached = claimsByDirectory.withLock({ $0[directory] }) { return cached }
        var found: [ForeignClaim] = []
        for name in files.entries(directory).sorted() where ClaimedRanges.isNetworkConfiguration(name) {
            let path = "\(directory)/\(name)"
            guard let text = try? files.read(path), let value = try? JSONParser.parse(text) else { continue }
            found += ClaimedRanges.subnets(in: value).map { ForeignClaim(path: path, subnet: $0) }
        }
        claimsByDirectory.withLock { $0[directory] = found }
        return found
    }
}
