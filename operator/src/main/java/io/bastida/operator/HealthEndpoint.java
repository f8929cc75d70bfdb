package io.bastida.operator;

import com.sun.net.httpserver.HttpServer;
import io.javaoperatorsdk.operator.RuntimeInfo;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;

/** {@code /healthz} (informers healthy) and {@code /readyz} (started) for the kubelet's probes. */
final class HealthEndpoint implements AutoCloseable {
  private final HttpServer server;

  HealthEndpoint(int port, RuntimeInfo runtime) throws IOException {
    server = HttpServer.create(new InetSocketAddress(port), 0);
    route("/healthz", () -> !runtime.isStarted() || runtime.allEventSourcesAreHealthy());
    route("/readyz", runtime::isStarted);
    server.start();
  }

  private void route(String path, BooleanSupplier healthy) {
    server.createContext(
        path,
        exchange -> {
          boolean ok = healthy.getAsBoolean();
          byte[] body = (ok ? "ok\n" : "unhealthy\n").getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(ok ? 200 : 503, body.length);
          try (var out = exchange.getResponseBody()) {
            out.write(body);
          }
        });
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
