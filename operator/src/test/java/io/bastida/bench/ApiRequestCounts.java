package io.bastida.bench;

import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The API server's {@code apiserver_request_total} counter, read from {@code GET /metrics}, keyed
 * by "VERB resource[/subresource] code" for the requests that concern Bastida: group bastida.io and
 * events (core or events.k8s.io). Everything else is summed under "other".
 */
final class ApiRequestCounts {
  private static final Pattern SAMPLE =
      Pattern.compile(
          "^(apiserver_request_total|apiserver_request_duration_seconds_sum"
              + "|apiserver_request_duration_seconds_count|etcd_request_duration_seconds_sum"
              + "|etcd_request_duration_seconds_count)\\{(.*)\\}\\s+([0-9.eE+]+)$");
  private static final Pattern LABEL = Pattern.compile("(\\w+)=\"((?:[^\"\\\\]|\\\\.)*)\"");

  final Map<String, Long> counts;

  /** Server-side time spent on requests, "VERB resource[/subresource]" → [seconds, requests]. */
  final Map<String, double[]> durations;

  private ApiRequestCounts(Map<String, Long> counts, Map<String, double[]> durations) {
    this.counts = counts;
    this.durations = durations;
  }

  static ApiRequestCounts parse(String metrics) {
    Map<String, Long> counts = new TreeMap<>();
    Map<String, double[]> durations = new TreeMap<>();
    for (String line : metrics.split("\n")) {
      Matcher sample = SAMPLE.matcher(line);
      if (!sample.matches()) {
        continue;
      }
      Map<String, String> labels = new TreeMap<>();
      Matcher label = LABEL.matcher(sample.group(2));
      while (label.find()) {
        labels.put(label.group(1), label.group(2));
      }
      String group = labels.getOrDefault("group", "");
      String resource = labels.getOrDefault("resource", "");
      boolean ours = group.equals("bastida.io") || resource.equals("events");
      String subresource = labels.getOrDefault("subresource", "");
      double value = Double.parseDouble(sample.group(3));
      if (sample.group(1).startsWith("etcd_")) {
        String what = labels.getOrDefault("resource", labels.getOrDefault("type", ""));
        if (!what.matches(".*(virtualmachines|hosts|storagedomains|events).*")) {
          continue;
        }
        what = "etcd " + labels.get("operation") + " " + what;
        int index = sample.group(1).endsWith("_sum") ? 0 : 1;
        durations.computeIfAbsent(what, k -> new double[2])[index] += value;
        continue;
      }
      if (!sample.group(1).equals("apiserver_request_total")) {
        if (ours) {
          String what =
              labels.get("verb")
                  + " "
                  + resource
                  + (subresource.isEmpty() ? "" : "/" + subresource);
          int index = sample.group(1).endsWith("_sum") ? 0 : 1;
          durations.computeIfAbsent(what, k -> new double[2])[index] += value;
        }
        continue;
      }
      String key =
          ours
              ? labels.get("verb")
                  + " "
                  + resource
                  + (subresource.isEmpty() ? "" : "/" + subresource)
                  + " "
                  + labels.get("code")
              : "other";
      counts.merge(key, (long) value, Long::sum);
    }
    return new ApiRequestCounts(counts, durations);
  }

  /** What happened between {@code before} and this reading (keys with no change left out). */
  ApiRequestCounts since(ApiRequestCounts before) {
    Map<String, Long> delta = new TreeMap<>();
    counts.forEach(
        (key, value) -> {
          long d = value - before.counts.getOrDefault(key, 0L);
          if (d != 0) {
            delta.put(key, d);
          }
        });
    Map<String, double[]> spent = new TreeMap<>();
    durations.forEach(
        (key, value) -> {
          double[] old = before.durations.getOrDefault(key, new double[2]);
          if (value[1] - old[1] > 0) {
            spent.put(key, new double[] {value[0] - old[0], value[1] - old[1]});
          }
        });
    return new ApiRequestCounts(delta, spent);
  }

  /** Mean server-side latency in milliseconds per "VERB resource[/subresource]" (of a delta). */
  Map<String, Double> meanLatencyMillis() {
    Map<String, Double> mean = new TreeMap<>();
    durations.forEach(
        (key, value) -> mean.put(key, Math.round(value[0] / value[1] * 10000) / 10.0));
    return mean;
  }

  /** This delta minus requests the benchmark itself made ("VERB resource" → count). */
  ApiRequestCounts minus(Map<String, Long> ownRequests) {
    Map<String, Long> left = new TreeMap<>(counts);
    ownRequests.forEach(
        (verbAndResource, own) -> {
          long remaining = own;
          for (var entry : left.entrySet()) {
            if (remaining > 0 && entry.getKey().startsWith(verbAndResource + " ")) {
              long taken = Math.min(remaining, entry.getValue());
              entry.setValue(entry.getValue() - taken);
              remaining -= taken;
            }
          }
        });
    left.values().removeIf(v -> v == 0);
    return new ApiRequestCounts(left, durations);
  }

  /** Requests on Bastida's resources and events (without "other"). */
  long bastidaAndEvents() {
    return counts.entrySet().stream()
        .filter(e -> !e.getKey().equals("other"))
        .mapToLong(Map.Entry::getValue)
        .sum();
  }

  /**
   * Sum of the entries whose key starts with {@code prefix} (e.g. "PATCH virtualmachines/status").
   */
  long matching(String prefix) {
    return counts.entrySet().stream()
        .filter(e -> e.getKey().startsWith(prefix + " "))
        .mapToLong(Map.Entry::getValue)
        .sum();
  }

  /** Writes of a VM's status, whatever verb the client used (merge patch, apply or update). */
  long vmStatusWrites() {
    return matching("PATCH virtualmachines/status")
        + matching("APPLY virtualmachines/status")
        + matching("PUT virtualmachines/status");
  }
}
