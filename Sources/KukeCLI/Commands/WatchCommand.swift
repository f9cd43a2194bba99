import ArgumentParser
import Foundation
import KukeEngine
import KukeHost
import KukeWatch
import Logging
import ServiceLifecycle

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Keep the host equal to manifest directories: reconcile, then follow changes until stopped.",
        discussion: """
            Reads every manifest under the directories and reconciles it, then follows file changes \
            (inotify, or polling with --poll), repairs drift at every --resync and at once when a \
            managed bridge is deleted. Runs under systemd as Type=notify (manifests/kuke-watch.service). \
            SIGTERM finishes the reconcile in flight and exits 0; SIGHUP resyncs.

            With --prune, a space this watcher created is deleted once its manifest stayed gone for \
            --prune-grace and two reads of the directories, after a pass in which everything converged. \
            A manifest file being replaced (empty, a dangling link, a directory where it was) holds \
            changes and prune like an invalid file.

            Like sshd's StrictModes, refuses to start (exit 2) when a directory, or a manifest in \
            it, is writable by group or others or owned by neither root nor the user kuke runs as, \
            or when a directory above it is writable by group or others without the sticky bit.

            Examples:
              kuke watch /srv/kukeon/manifests
              kuke watch /srv/git-sync/current --prune --log-format json
              kuke watch /srv/kukeon/manifests --prune --prune-grace 2m
              kuke watch ./manifests --poll 2s --resync 1m
              kuke watch /etc/kukeon/manifests --metrics-address 127.0.0.1:9464
            """)

    @Argument(help: "Directories of manifests (followed recursively, symbolic links included).")
    var directories: [String]
    @OptionGroup var host: HostOptions
    // `.unconditional`: `--debounce -1s` takes "-1s" as its value and gets the range error, not "Missing value".
    @Option(
        parsing: .unconditional, help: "Wait this long after the first change of a burst before reloading (e.g. 100ms, 1s; default: 100ms).",
        transform: Interval.parse)
    var debounce = Interval(seconds: 0.1)
    @Option(
        parsing: .unconditional, help: "Re-observe and repair every resource this often (e.g. 5m, 30s; at most 8760h; default: 5m).",
        transform: Interval.parse)
    var resync = Interval(seconds: 300)
    @Option(parsing: .unconditional, help: "Poll for changes at this interval instead of using inotify (e.g. 2s).", transform: Interval.parse)
    var poll: Interval?
    @Flag(help: "Delete spaces this watcher created whose manifests disappeared.")
    var prune = false
    @Flag(help: "With --prune, also delete spaces that have children.")
    var cascade = false
    @Flag(name: .customLong("allow-empty"), help: "With --prune, allow a pass that deletes every space this watcher owns.")
    var allowEmpty = false
    @Option(
        name: .customLong("prune-grace"), parsing: .unconditional,
        help: ArgumentHelp(
            "With --prune, delete a space only after its manifest stayed gone this long and over two reads of the directories (default 30s; 0s: at once).",
            valueName: "duration"),
        transform: Interval.parse)
    var pruneGrace: Interval?
    @Option(name: .customLong("log-format"), help: "text (one line per record, for journald) or json.")
    var logFormat: LineLogHandler.Format = .text
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: LogLevel = .info
    @Option(
        name: .customLong("metrics-address"),
        help: ArgumentHelp(
            "Serve /metrics (Prometheus), /healthz and /readyz over HTTP on this address (e.g. 127.0.0.1:9464).", valueName: "host:port"))
    var metricsAddress: MetricsAddress?
    @Option(
        name: .customLong("metrics-file"),
        help: ArgumentHelp("Write the metrics to this file after each pass (node_exporter's textfile collector: a *.prom file).", valueName: "path"))
    var metricsFile: String?

    /// How often to poll when inotify cannot be used and no --poll was given.
    static let fallbackPollInterval = 2.0
    /// How long a manifest stays gone before prune acts, when --prune-grace is not given: longer
    /// than any copy or link swap takes, short enough that a removal is acted on promptly.
    static let defaultPruneGrace = 30.0

    func validate() throws {
        if directories.isEmpty { throw ValidationError("give at least one directory to watch") }
        for directory in directories {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("\(directory) is not a directory")
            }
        }
        if resync.seconds <= 0 || (poll.map { $0.seconds <= 0 } ?? false) {
            throw ValidationError("--resync and --poll must be positive, --debounce not negative")
        }
        if pruneGrace != nil && !prune { throw ValidationError("--prune-grace goes with --prune") }
        if let metricsFile, !metricsFile.hasPrefix("/") { throw ValidationError("--metrics-file \"\(metricsFile)\" must be an absolute path") }
    }

    func run() async throws {
        let console = Console.current
        let roots = directories.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        // StrictModes: refuse directories others can write to, before anything is read or applied.
        do {
            try ManifestDirectoryTrust.check(roots)
        } catch {
            for (index, line) in error.lines.enumerated() { console.error(index == 0 ? "error: \(line)" : line) }
            throw ExitCode(ExitStatus.invalid)
        }
        let (layout, labels) = try host.settings(console)
        let format = logFormat
        let level = Logger.Level(rawValue: logLevel.rawValue) ?? .info
        // Under systemd, stderr is a journal stream: prefix lines with their priority so `journalctl -p err` works.
        let journal = console.environment["JOURNAL_STREAM"] != nil
        let logger = Logger(label: "kuke.watch") { _ in
            LineLogHandler(format: format, level: level, journalPriorities: journal, write: console.writeError)
        }
        var options = WatchOptions(
            roots: roots, debounce: debounce.seconds, resyncInterval: resync.seconds, prune: prune, cascade: cascade, allowEmpty: allowEmpty,
            pruneGrace: pruneGrace?.seconds ?? Self.defaultPruneGrace)
        options.hostLabels = labels
        var engine = Engine(layout: layout, drivers: HostFactory.drivers(for: layout, onLockWait: { logger.notice("\($0)") }), hints: CommandHints())
        engine.recordCache = RecordCache()
        let watcher: any ManifestWatcher = poll.map { PollingWatcher(interval: $0.seconds) } ?? InotifyWatcher()
        var telemetry: WatchTelemetry?
        var server: MetricsServer?
        if metricsAddress != nil || metricsFile != nil {
            let build = [("version", BuildInfo.version), ("commit", BuildInfo.commit), ("swift", BuildInfo.swiftCompiler)]
            let published = WatchTelemetry(
                metrics: WatchMetrics(build: build, resyncInterval: resync.seconds), file: metricsFile, firewall: engine.drivers.firewall)
            telemetry = published
            if let metricsAddress {
                do {
                    server = try await MetricsServer.bind(host: metricsAddress.host, port: metricsAddress.port) { published.respond($0) }
                } catch {
                    console.error("error: --metrics-address \(metricsAddress): cannot listen: \(error)")
                    throw ExitCode(ExitStatus.invalid)
                }
                logger.info("serving metrics", metadata: ["address": "\(server?.address ?? "")"])
            }
        }
        let service = WatchService(
            engine: engine, options: options, logger: logger, watcher: watcher,
            fallback: poll == nil ? PollingWatcher(interval: Self.fallbackPollInterval) : nil, telemetry: telemetry)
        // Shut down in reverse order: the watcher finishes its pass first, the metrics server
        // (its /healthz included) answers until then. A metrics server that stops on its own
        // leaves the watcher running.
        let services: [ServiceGroupConfiguration.ServiceConfiguration] =
            (server.map { [.init(service: $0, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore)] } ?? [])
            + [.init(service: service)]
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            console.error("error: \(error)")
            throw ExitCode(ExitStatus.failed)
        }
    }
}

/// A time interval on the command line: `100ms`, `2s`, `5m`, `1h`, or a number of seconds; at
/// most `maximumSeconds`, so no interval (`1e400s`, `inf`) reaches a conversion that traps.
struct Interval: ExpressibleByArgument, CustomStringConvertible {
    var seconds: Double

    /// A year (8760h).
    static let maximumSeconds: Double = 365 * 86_400

    init(seconds: Double) { self.seconds = seconds }

    init?(argument: String) {
        guard let seconds = Self.seconds(of: argument), seconds >= 0, seconds <= Self.maximumSeconds else { return nil }
        self.seconds = seconds
    }

    /// `100ms`, `30s`, `2m`, `1h` or a bare number of seconds, in seconds, unbounded; nil when it is not a duration.
    static func seconds(of argument: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        let (number, scale) = units.first { argument.hasSuffix($0.0) }.map { (argument.dropLast($0.0.count), $0.1) } ?? (Substring(argument), 1)
        guard let value = Double(number), value.isFinite else { return nil }
        return value * scale
    }

    /// Parses an interval, or says what is wrong with it: not a duration, negative, or over a
    /// year (a usage error, exit 2).
    static func parse(_ argument: String) throws -> Interval {
        if let interval = Interval(argument: argument) { return interval }
        switch seconds(of: argument) {
        case let seconds? where seconds < 0: throw ValidationError("\"\(argument)\" is negative: a duration is 0s or more")
        case .some: throw ValidationError("\"\(argument)\" is longer than a year (8760h)")
        case nil: throw ValidationError("\"\(argument)\" is not a duration: give a number and a unit, as 30s, 2m or 0s")
        }
    }

    var description: String {
        seconds < 1
            ? "\(Int((seconds * 1000).rounded()))ms" : seconds.truncatingRemainder(dividingBy: 60) == 0 ? "\(Int(seconds / 60))m" : "\(seconds)s"
    }
}

/// `--metrics-address HOST:PORT` (an IPv6 host in brackets: `[::1]:9464`).
struct MetricsAddress: ExpressibleByArgument, CustomStringConvertible {
    var host: String
    var port: Int

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let port = Int(argument[argument.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(argument[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// `--log-level`, named as swift-log names its levels.
enum LogLevel: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

extension LineLogHandler.Format: ExpressibleByArgument {}
