/// The part of a resource a driver owns.
public enum Part: String, Sendable, CaseIterable {
    case metadata
    case cgroup
    case conflist
    case bridge
    /// The isolation table (`inet kukeon`), shared by every space.
    case firewall
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
        case setLinkUp(name: String)
        case deleteLink(name: String)
        case deletePorts(bridge: String)
        case detach(CNIAttachment, config: String)
        case replaceFirewall(script: String)
    }

    public var part: Part
    public var action: Action
    /// The path or link name the change is about.
    public var subject: String
    /// One line for humans: `create bridge kuke-main-blog`.
    public var summary: String
    /// A unified diff of the part's text, when it has one.
    public var diff: String?
    public var operation: Operation

    public init(part: Part, action: Action, subject: String, summary: String, diff: String? = nil, operation: Operation) {
        self.part = part
        self.action = action
        self.subject = subject
        self.summary = summary
        self.diff = diff
        self.operation = operation
    }
}
