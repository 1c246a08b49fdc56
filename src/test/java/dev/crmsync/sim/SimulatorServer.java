package dev.crmsync.sim;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * The HTTP scaffolding every CRM simulator shares: a loopback {@link HttpServer} on a pool of daemon
 * threads, the {@link Faults} and {@link CallStats} with their accessors, the common {@code /__sim}
 * endpoints, and the order a request goes through: counted, delayed, faulted, then served and logged.
 * Each CRM answers in its own {@link Answer} type, since their error shapes differ.
 */
public abstract class SimulatorServer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String threadName;
    private final String contentType;
    private final int requestedPort;
    private final int threads;
    private final Faults faults = new Faults();
    private final CallStats stats = new CallStats();

    private HttpServer server;
    private ExecutorService executor;

    /** A reply as one CRM writes it. */
    public interface Answer {
        int status();

        /** Writes the reply; the caller closes the exchange. */
        void send(HttpExchange exchange) throws IOException;
    }

    /**
     * Where a request outside {@code /__sim} is counted, the path its faults match (which may differ
     * from the logged path), and how it is answered given the fault it took, if any.
     */
    public record Call(String endpoint, String faultPath, Function<Optional<Faults.Action>, Answer> answer) {
    }

    /**
     * @param threadName the request threads' name, before their number
     * @param contentType of this CRM's JSON answers, which the shared {@code /__sim} endpoints use too
     */
    protected SimulatorServer(String threadName, String contentType, int port, int threads) {
        this.threadName = threadName;
        this.contentType = contentType;
        this.requestedPort = port;
        this.threads = threads;
    }

    /** Checks a builder's port: 0 picks a free one. */
    protected static int checkPort(int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0..65535, not " + port);
        }
        return port;
    }

    protected static int checkThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be 1 or more, not " + threads);
        }
        return threads;
    }

    // ---------------------------------------------------------------- lifecycle

    /** Starts serving on the loopback interface; answers this simulator. */
    public synchronized SimulatorServer start() {
        if (server != null) {
            return this;
        }
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), requestedPort), 0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on 127.0.0.1:" + requestedPort, e);
        }
        AtomicInteger n = new AtomicInteger();
        executor = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, threadName + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
        return this;
    }

    public synchronized void stop() {
        if (server == null) {
            return;
        }
        server.stop(0);
        executor.shutdownNow();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        server = null;
        executor = null;
    }

    @Override
    public void close() {
        stop();
    }

    protected synchronized boolean running() {
        return server != null;
    }

    public synchronized int port() {
        if (server == null) {
            throw new IllegalStateException("the simulator is not started");
        }
        return server.getAddress().getPort();
    }

    /** {@code http://127.0.0.1:<port>}, without a trailing slash. */
    public String baseUrl() {
        return "http://127.0.0.1:" + port();
    }

    // ---------------------------------------------------------------- faults and counters

    public Faults faults() {
        return faults;
    }

    public CallStats stats() {
        return stats;
    }

    /** Requests counted under {@code endpoint}, e.g. {@code "POST /api/contacts"}. */
    public long calls(String endpoint) {
        return stats.calls(endpoint);
    }

    public long totalCalls() {
        return stats.total();
    }

    public Map<String, Long> callCounts() {
        return stats.snapshot();
    }

    public List<CallStats.Request> requests() {
        return stats.requests();
    }

    public List<CallStats.Request> requests(String endpoint) {
        return stats.requests(endpoint);
    }

    /** Clears the counters and the request log. */
    public void resetCounters() {
        stats.reset();
    }

    // ---------------------------------------------------------------- what each CRM answers

    /** The path as this CRM routes, counts and logs it: raw or percent-decoded. */
    protected abstract String path(HttpExchange exchange);

    protected abstract Call route(HttpExchange exchange, String method, String path);

    /** Answers a {@code /__sim} request other than the stats, requests and faults ones all simulators share. */
    protected abstract Answer control(HttpExchange exchange, String method, String path);

    /** The 500 to answer when serving a request failed. */
    protected abstract Answer failure(RuntimeException e);

    // ---------------------------------------------------------------- HTTP

    private void handle(HttpExchange exchange) {
        try {
            String method = exchange.getRequestMethod().toUpperCase(Locale.ROOT);
            String path = path(exchange);
            if (path.equals("/__sim") || path.startsWith("/__sim/")) {
                Answer shared = sharedControl(exchange, method, path);
                (shared != null ? shared : control(exchange, method, path)).send(exchange);
                return;
            }
            long receivedNanos = System.nanoTime();
            Instant receivedAt = Instant.now();
            Call call = route(exchange, method, path);
            stats.count(call.endpoint());
            long latency = faults.latency().toMillis();
            if (latency > 0) {
                Thread.sleep(latency);
            }
            Optional<Faults.Action> fault = faults.take(method, call.faultPath());
            if (fault.isPresent() && fault.get().drop()) {
                stats.record(new CallStats.Request(call.endpoint(), method, path, receivedAt, receivedNanos,
                        CallStats.DROPPED));
                // Closing before the response headers makes the server close the socket: the client
                // reads EOF (or a reset) where it expects a status line.
                exchange.close();
                return;
            }
            Answer reply = call.answer().apply(fault);
            // Logged before answering, so a client holding the answer also sees the log entry.
            stats.record(new CallStats.Request(call.endpoint(), method, path, receivedAt, receivedNanos,
                    reply.status()));
            reply.send(exchange);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            // The client went away; nothing to answer.
        } catch (RuntimeException e) {
            try {
                failure(e).send(exchange);
            } catch (IOException | RuntimeException ignored) {
                // Headers may already be out; the close below ends the exchange.
            }
        } finally {
            exchange.close();
        }
    }

    /** The {@code /__sim} stats, requests and faults endpoints, or null for any other. */
    private Answer sharedControl(HttpExchange exchange, String method, String path) {
        try {
            switch (method + " " + path) {
                case "GET /__sim/stats":
                    return json(200, SimControl.statsView(stats));
                case "DELETE /__sim/stats":
                    stats.reset();
                    return SimHttp.Reply.empty(204);
                case "GET /__sim/requests":
                    return json(200, SimControl.requestsView(stats));
                case "GET /__sim/faults":
                    return json(200, SimControl.faultsView(faults));
                case "POST /__sim/faults":
                    try (InputStream in = exchange.getRequestBody()) {
                        SimControl.applyFaults(faults, in);
                    }
                    return json(200, SimControl.faultsView(faults));
                case "DELETE /__sim/faults":
                    faults.clear();
                    return SimHttp.Reply.empty(204);
                default:
                    return null;
            }
        } catch (IllegalArgumentException e) {
            return json(400, invalidControl(e));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The 400 body for a {@code /__sim} request that cannot be applied: {@code {"error":"invalid",...}}. */
    protected static Map<String, Object> invalidControl(IllegalArgumentException e) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", "invalid");
        body.put("message", e.getMessage());
        if (e instanceof SimControl.BadControl b && b.field() != null) {
            body.put("field", b.field());
        }
        return body;
    }

    private SimHttp.Reply json(int status, Object body) {
        try {
            return new SimHttp.Reply(status, Map.of(), JSON.writeValueAsBytes(body), contentType);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
