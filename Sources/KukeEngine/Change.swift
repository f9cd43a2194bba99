import KukeModel

/// The part of a resource a driver owns, as its changes name it: one of kuke's, or one a
/// `SpacePart` defined elsewhere brings.
public struct Part: Hashable, Sendable, CustomStringConvertible {
    /// What diff, the log and `-o json` call it.
    public var name: String
    /// Why a space fails when the host refuses one of the part's changes.
    public var failureReason: FailureReason

    public init(_ name: String, failureReason: FailureReason) {
        self.name = name
        self.failureReason = failureReason
    }

    public var description: String { name }

    public static let metadata = Part("metadata", failureReason: .metadataWriteFailed)
    public static let cgroup = Part("cgroup", failureReason: .cgroupFailed)
    public static let conflist = Part("conflist", failureReason: .conflistWriteFailed)
    public static let bridge = Part("bridge", failureReason: .bridgeFailed)
    /// The isolation table (`inet kukeon`), shared by every space.
    public static let firewall = Part("firewall", failureReason: .firewallFailed)
}

/// One step a driver takes to bring a part from observed to desired. Printable for
/// humans (`summary`, `diff`) and as data; carries what `apply` needs.
public struct Change: Sendable, Equatable {
    public enum Action: String, Sendable {
        case create
        case update
        case delete
    }

    /// What the driver will do, with the data it needs.
    public enum Operation: Sendable, Equatable {
        case writeFile(path: String, text: String, mode: UInt32)
        case removeFile(path: String)
        case removeTree(path: String)
        case removeDirectory(path: String)
        case makeCgroup(path: String)
        case enableControllers(path: String, controllers: [String])
        case removeCgroup(path: String)
        case writeCgroupFile(path: String, file: String, value: String)
        case createBridge(name: String)
        case setLinkUp(name: String, ipv6: Bool = false)
        case enableIPv6(name: String)
        case disableIPv6(name: String)
        case deleteLink(name: String)
        case deletePorts(bridge: String)
        case detach(CNIAttachment, config: String)
        case replaceFirewall(script: String)
        /// What a part outside the drivers' verbs does itself (see `PartAction`).
        case action(PartAction)
    }

    public var part: Part
    public var action: Action
    /// The path or link name the change is about.
    public var subject: String
    /// One line for humans: `create bridge kuke-main-blog`.
    public var summary: String
    /// What the diff is made from: its text, or two lists of lines diffed only when asked.
    public enum Diff: Sendable, Equatable {
        case text(String)
        /// `old` nil when the part does not exist yet.
        case lines(old: [String]?, new: [String], label: String)
    }

    public var diffSource: Diff?
    public var operation: Operation

    /// A unified diff of the part's text, when it has one; a diff of lines is made here, when a
    /// person asks for it (`kuke diff`), not when the change is planned.
    public var diff: String? {
        switch diffSource {
        case nil: nil
        case .text(let text): text
        case .lines(let old, let new, let label): UnifiedDiff.make(oldLines: old, newLines: new, oldLabel: label, newLabel: label)
        }
    }

    public init(part: Part, action: Action, subject: String, summary: String, diff: String? = nil, operation: Operation) {
        self.init(part: part, action: action, subject: subject, summary: summary, diffSource: diff.map(Diff.text), operation: operation)
    }

    public init(part: Part, action: Action, subject: String, summary: String, diff: Diff, operation: Operation) {
        self.init(part: part, action: action, subject: subject, summary: summary, diffSource: diff, operation: operation)
    }

    init(part: Part, action: Action, subject: String, summary: String, diffSource: Diff?, operation: Operation) {
        self.part = part
        self.action = action
        self.subject = subject
        self.summary = summary
        self.diffSource = diffSource
        self.operation = operation
    }
}
