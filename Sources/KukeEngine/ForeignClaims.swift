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
    let directories = Mutex<Set<String>?>(nil)

    public init() {}

    /// The CNI directories kuke writes to in this pass: those its records named when first
    /// asked (`recorded`, worked out once), and every directory asked about since.
    func directories(adding more: Set<String>, recorded: () -> Set<String>) -> Set<String> {
        let known = directories.withLock { $0 } ?? recorded()
        let all = known.union(more)
        directories.withLock { $0 = all }
        return all
    }

    /// Every range claimed by a network configuration in `directory`; unreadable or malformed
    /// files claim nothing (the plugins would not load them either).
    /// - Parameter owned: whether kuke owns a file (a space records it): not read at all.
    public func claims(in directory: String, files: any FileStore, owned: (String) -> Bool) -> [ForeignClaim] {
        if let cached = claimsByDirectory.withLock({ $0[directory] }) { return cached }
        var found: [ForeignClaim] = []
        for name in files.entries(directory).sorted() where ClaimedRanges.isNetworkConfiguration(name) {
            let path = "\(directory)/\(name)"
            if owned(path) { continue }
            guard let text = try? files.read(path), let value = try? JSONParser.parse(text) else { continue }
            found += ClaimedRanges.subnets(in: value).map { ForeignClaim(path: path, subnet: $0) }
        }
        claimsByDirectory.withLock { $0[directory] = found }
        return found
    }
}
