import KukeModel

/// A resource's identity in the watch loop.
public enum ResourceKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    case realm(String)
    case space(SpaceID)

    public init(_ resource: Resource) {
        switch resource {
        case .realm(let realm): self = .realm(realm.metadata.name)
        case .space(let space): self = .space(space.id)
        }
    }

    public var description: String {
        switch self {
        case .realm(let name): "Realm \(name)"
        case .space(let id): "Space \(id)"
        }
    }

    public static func < (lhs: ResourceKey, rhs: ResourceKey) -> Bool { lhs.description < rhs.description }
}

/// What the watched directories declare, file by file. A file that stops parsing keeps
/// the resources it declared before (they are never deleted because a file broke); a
/// resource declared by two files is a conflict and is left untouched.
public struct DesiredState: Sendable {
    /// The resources of each file, from its last good parse.
    public private(set) var byFile: [String: [Resource]] = [:]
    /// The files whose last parse failed, with the issues.
    public private(set) var invalid: [String: [ManifestIssue]] = [:]
    /// Every resource declared by exactly one file, with that file (derived at each update).
    public private(set) var resources: [ResourceKey: (resource: Resource, file: String)] = [:]
    /// Keys declared by more than one file, with the files (derived at each update).
    public private(set) var conflicts: [ResourceKey: [String]] = [:]

    public init() {}

    /// Takes a fresh read of the directories: per file, either its resources or its issues.
    /// Returns the files newly broken (or whose problems changed) and the files fixed, for logging.
    public mutating func update(files: [String: Result<[Resource], ManifestIssues>]) -> (broken: [String], fixed: [String]) {
        var broken: [String] = []
        var fixed: [String] = []
        for (file, result) in files {
            switch result {
            case .success(let resources):
                byFile[file] = resources
                if invalid.removeValue(forKey: file) != nil { fixed.append(file) }
            case .failure(let issues):
                if invalid[file] != issues.issues { broken.append(file) }  // newly broken, or broken differently
                invalid[file] = issues.issues
            }
        }
        for file in byFile.keys where files[file] == nil { byFile[file] = nil }
        for file in invalid.keys where files[file] == nil { invalid[file] = nil }
        resolve()
        return (broken.sorted(), fixed.sorted())
    }

    /// Splits the declarations into single ones and conflicts; done once per update, not per lookup.
    mutating func resolve() {
        var declared: [ResourceKey: [(Resource, String)]] = [:]
        for (file, resources) in byFile {
            for resource in resources { declared[ResourceKey(resource), default: []].append((resource, file)) }
        }
        resources = [:]
        conflicts = [:]
        for (key, entries) in declared {
            if entries.count == 1 {
                resources[key] = (entries[0].0, entries[0].1)
            } else {
                conflicts[key] = entries.map(\.1).sorted()
            }
        }
    }
}
