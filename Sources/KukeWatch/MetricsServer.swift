import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// `kuke watch --metrics-address`: `/metrics` (Prometheus text), `/healthz` and `/readyz` over
/// SwiftNIO's HTTP/1 server, on one event loop thread of its own. Only GET and HEAD; anything
/// else is 405, an unknown path 404.
public final class MetricsServer: Service, Sendable {
    /// The answer to one request: status, content type and body.
    public struct Response: Sendable {
        public var status: HTTPResponseStatus
        public var contentType: String
        public var body: String

        public init(status: HTTPResponseStatus, contentType: String = "text/plain; charset=utf-8", body: String) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    let group: MultiThreadedEventLoopGroup
    let channel: any Channel

    init(group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.group = group
        self.channel = channel
    }

    /// Binds `host:port` and serves `respond(path)` for each GET or HEAD (from when it is bound,
    /// so a port taken is an error before the service starts); throws when it cannot bind.
    public static func bind(host: String, port: Int, respond: @escaping @Sendable (String) -> Response) async throws -> MetricsServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // A connection idle for 30 s is closed: idle keep-alive clients never hold the
                    // watcher's file descriptors (which its passes need) for long.
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: .seconds(30)))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(respond: respond))
                }
            }
        do {
            return MetricsServer(group: group, channel: try await bootstrap.bind(host: host, port: port).get())
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// The address it listens on (the port the kernel chose for port 0).
    public var address: String {
        guard let local = channel.localAddress else { return "?" }
        return "\(local.ipAddress ?? "?"):\(local.port ?? 0)"
    }

    /// Serves until the service group shuts down (or the task is cancelled), then closes the
    /// listening socket and ends its event loop.
    public func run() async throws {
        let channel = channel
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
        try await group.shutdownGracefully()
    }
}

/// One HTTP/1 connection: answers each request when it has been read whole.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let respond: @Sendable (String) -> MetricsServer.Response
    var head: HTTPRequestHead?

    init(respond: @escaping @Sendable (String) -> MetricsServer.Response) { self.respond = respond }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request): head = request
        case .body: break
        case .end:
            guard let request = head else { return }
            head = nil
            let path = String(request.uri.prefix { $0 != "?" })
            let response: MetricsServer.Response
            if request.method == .GET || request.method == .HEAD {
                response = respond(path)
            } else {
                response = MetricsServer.Response(status: .methodNotAllowed, body: "only GET and HEAD\n")
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: response.contentType)
            headers.add(name: "Content-Length", value: "\(response.body.utf8.count)")
            if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers))), promise: nil)
            if request.method != .HEAD {
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: response.body)))), promise: nil)
            }
            if request.isKeepAlive {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            } else {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}
