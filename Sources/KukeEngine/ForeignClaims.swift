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

/// An IPv6 range another network configuration claims.
public struct ForeignClaim6: Sendable, Equatable {
    public var path: String
    public var subnet: IPv6Subnet
}

/// The ranges claimed by the network configurations in CNI directories, read at most once per
/// directory and pass, and only when a pass allocates a subnet. Which of them kuke owns is
/// decided when they are used (a pass creates conflists as it goes).
public final class ForeignClaimCache: Sendable {
    let claimsByDirectory = Mutex<[String: [ForeignClaim]]>([:])
    let claims6ByDirectory = Mutex<[String: [ForeignClaim6]]>([:])
    let directories = Mutex<Set<String>?>(nil)
    /// Network configurations that could not be read, each with why, since `takeUnreadable()`.
    let unreadable = Mutex<[(path: String, problem: String)]>([])

    public init() {}

    /// The CNI directories kuke writes to in this pass: those its records named when first
    /// asked (`recorded`, worked out once), and every directory asked about since.
    func directories(adding more: Set<String>, recorded: () -> Set<String>) -> Set<String> {
        let known = directories.withLock { $0 } ?? recorded()
        let all = known.union(more)
        directories.withLock { $0 = all }
        return all
    }

    /// Every range claimed by a network configuration in `directory`. A file that cannot be read
    /// or is not JSON claims nothing (the plugins would not load it either) and is kept, with
    /// why, for `takeUnreadable()`: whatever range it meant to claim could not be avoided.
    /// - Parameter owned: whether kuke owns a file (a space records it): not read at all.
    public func claims(in directory: String, files: any FileStore, owned: (String) -> Bool) -> [ForeignClaim] {
        if let cached = claimsByDirectory.withLock({ $0[directory] }) { return cached }
        var found: [ForeignClaim] = []
        var found6: [ForeignClaim6] = []
        var problems: [(path: String, problem: String)] = []
        for name in files.entries(directory).sorted() where ClaimedRanges.isNetworkConfiguration(name) {
            let path = "\(directory)/\(name)"
            if owned(path) { continue }
            let value: JSONValue
            do {
                guard let text = try files.read(path) else { continue }
                value = try JSONParser.parse(text)
            } catch {
                problems.append((path, "\(error)"))
                continue
            }
            found += ClaimedRanges.subnets(in: value).map { ForeignClaim(path: path, subnet: $0) }
            found6 += ClaimedRanges.subnets6(in: value).map { ForeignClaim6(path: path, subnet: $0) }
        }
        claims6ByDirectory.withLock { $0[directory] = found6 }
        claimsByDirectory.withLock { $0[directory] = found }
        unreadable.withLock { $0 += problems }
        return found
    }

    /// Every IPv6 range claimed by a network configuration in `directory` (read with the IPv4 ones).
    public func claims6(in directory: String, files: any FileStore, owned: (String) -> Bool) -> [ForeignClaim6] {
        if claims6ByDirectory.withLock({ $0[directory] }) == nil { _ = claims(in: directory, files: files, owned: owned) }
        return claims6ByDirectory.withLock { $0[directory] } ?? []
    }

    /// The configurations found unreadable since the last call, each as a warning.
    public func takeUnreadable() -> [String] {
        unreadable.withLock { found in
            defer { found = [] }
            return found.map { entry in
                "network configuration \(entry.path) cannot be read (\(entry.problem)): a range it claims could not be avoided; fix or remove it"
            }
        }
    }
}
