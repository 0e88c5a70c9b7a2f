package io.xendisk.daemon;

import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The daemon's metrics endpoint: Prometheus's own HTTP server, serving
 * {@code /metrics} in the exposition format Prometheus asks for, on the address
 * config.xml's {@code <metrics>} names.
 */
final class MetricsServer implements AutoCloseable {
    private static final Pattern LISTEN = Pattern.compile("(?:(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):)?([0-9]{1,5})");

    private final HTTPServer server;
    private final InetSocketAddress address;

    private MetricsServer(HTTPServer server, InetSocketAddress address) {
        this.server = server;
        this.address = address;
    }

    /**
     * Serves {@code collector} on {@code listen} ("PORT" on the loopback
     * address, "HOST:PORT", "[IPv6]:PORT").
     *
     * @throws IllegalArgumentException the address is not one
     * @throws IOException              nothing can listen there (the port is taken)
     */
    static MetricsServer start(String listen, MultiCollector collector) throws IOException {
        InetSocketAddress at = address(listen);
        PrometheusRegistry registry = new PrometheusRegistry();
        registry.register(collector);
        HTTPServer server = HTTPServer.builder().inetAddress(at.getAddress()).port(at.getPort()).registry(registry)
                .buildAndStart();
        return new MetricsServer(server, new InetSocketAddress(at.getAddress(), server.getPort()));
    }

    /** What {@code listen} names; a bare port is on the loopback address, so metrics stay on the host unless asked. */
    static InetSocketAddress address(String listen) throws UnknownHostException {
        Matcher m = LISTEN.matcher(listen.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("metrics address '" + listen + "' is not PORT, HOST:PORT or"
                    + " [IPv6]:PORT (config.xml's <metrics>, e.g. 127.0.0.1:9477)");
        }
        int port = Integer.parseInt(m.group(2));
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("metrics port " + port + " in '" + listen + "' is not from 1 to 65535");
        }
        String host = m.group(1);
        if (host == null) {
            return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
        }
        if (host.startsWith("[")) {
            host = host.substring(1, host.length() - 1);
        }
        return new InetSocketAddress(InetAddress.getByName(host), port);
    }

    /** Where it listens: "127.0.0.1:9477". */
    String describe() {
        String host = address.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort();
    }

    @Override
    public void close() {
        server.close();
    }
}
