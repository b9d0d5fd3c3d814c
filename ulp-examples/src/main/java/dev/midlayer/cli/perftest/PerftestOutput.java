package dev.midlayer.cli.perftest;

import java.io.PrintWriter;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One result line of a perftest subcommand, printed as perftest's table or, with {@code --json}, as one
 * JSON object on one line (the keys that scripts comparing runs read). Numbers keep six significant
 * digits in JSON, so a tiny run never prints a rate of {@code 0}.
 */
final class PerftestOutput {
  private final Map<String, Object> fields = new LinkedHashMap<>();

  PerftestOutput(String test, long bytes, long iterations, int qps) {
    fields.put("test", test);
    fields.put("bytes", bytes);
    fields.put("iterations", iterations);
    fields.put("qps", qps);
  }

  PerftestOutput put(String key, double value) {
    fields.put(key, value);
    return this;
  }

  double get(String key) {
    return ((Number) fields.get(key)).doubleValue();
  }

  /** A row from its {@link #json()} line (flat: strings and numbers), as a server gets a client's result. */
  static PerftestOutput fromJson(String json) {
    String body = json.strip();
    if (!body.startsWith("{") || !body.endsWith("}")) {
      throw new PerftestException("not a result line: " + json);
    }
    Map<String, Object> f = new LinkedHashMap<>();
    for (String pair : body.substring(1, body.length() - 1).split(",")) {
      int colon = pair.indexOf(':');
      String key = pair.substring(0, colon).strip().replace("\"", "");
      String value = pair.substring(colon + 1).strip();
      if (value.startsWith("\"")) {
        f.put(key, value.replace("\"", ""));
      } else if (value.equals("null")) {
        f.put(key, Double.NaN);
      } else if (key.equals("bytes") || key.equals("iterations") || key.equals("qps")) {
        f.put(key, Long.parseLong(value));
      } else {
        f.put(key, Double.parseDouble(value));
      }
    }
    PerftestOutput row = new PerftestOutput(String.valueOf(f.remove("test")), (Long) f.remove("bytes"),
        (Long) f.remove("iterations"), ((Long) f.remove("qps")).intValue());
    row.fields.putAll(f);
    return row;
  }

  /** The JSON object on one line. */
  String json() {
    StringBuilder sb = new StringBuilder("{");
    for (Map.Entry<String, Object> e : fields.entrySet()) {
      if (sb.length() > 1) {
        sb.append(',');
      }
      sb.append('"').append(e.getKey()).append("\":");
      Object v = e.getValue();
      if (v instanceof String s) {
        sb.append('"').append(s).append('"');
      } else if (v instanceof Double d) {
        sb.append(number(d));
      } else {
        sb.append(v);
      }
    }
    return sb.append('}').toString();
  }

  private static String number(double d) {
    if (Double.isNaN(d) || Double.isInfinite(d)) {
      return "null";
    }
    if (d == 0) {
      return "0";
    }
    return new BigDecimal(d).round(new MathContext(6)).stripTrailingZeros().toPlainString();
  }

  /** MiB/s to Gb/s (perftest's --report_gbits: 10^9 bits). */
  static final double GBITS_PER_MIB = 1024.0 * 1024.0 * 8 / 1e9;

  /**
   * Prints the rows of a bandwidth test: MiB/s, or with {@code gbits} Gb/s (the JSON lines then have the Gb/s
   * keys in addition, the MiB/s ones unchanged).
   */
  static void printBw(PrintWriter out, boolean json, boolean gbits, java.util.List<PerftestOutput> rows) {
    if (!gbits) {
      print(out, json,
          new String[] {"#bytes", "#iterations", "BW peak[MiB/sec]", "BW average[MiB/sec]", "MsgRate[Mpps]"},
          new String[] {"bytes", "iterations", "bw_peak_mib_s", "bw_avg_mib_s", "msg_rate_mpps"}, rows);
      return;
    }
    for (PerftestOutput row : rows) {
      row.put("bw_peak_gb_s", row.get("bw_peak_mib_s") * GBITS_PER_MIB);
      row.put("bw_avg_gb_s", row.get("bw_avg_mib_s") * GBITS_PER_MIB);
    }
    print(out, json,
        new String[] {"#bytes", "#iterations", "BW peak[Gb/sec]", "BW average[Gb/sec]", "MsgRate[Mpps]"},
        new String[] {"bytes", "iterations", "bw_peak_gb_s", "bw_avg_gb_s", "msg_rate_mpps"}, rows);
  }

  /** Prints the table (header, values, rules) or the JSON line. */
  static void print(PrintWriter out, boolean json, String[] header, String[] keys, PerftestOutput row) {
    print(out, json, header, keys, java.util.List.of(row));
  }

  /** Prints one table with a line per row (header once, as perftest's {@code -a}) or one JSON line per row. */
  static void print(PrintWriter out, boolean json, String[] header, String[] keys,
      java.util.List<PerftestOutput> rows) {
    if (json) {
      for (PerftestOutput row : rows) {
        out.println(row.json());
      }
    } else {
      StringBuilder h = new StringBuilder();
      java.util.List<String> lines = new java.util.ArrayList<>();
      for (int i = 0; i < header.length; i++) {
        int w = Math.max(header[i].length(), 10) + 3;
        h.append(String.format(Locale.ROOT, " %-" + w + "s", header[i]));
      }
      int width = h.length();
      for (PerftestOutput row : rows) {
        StringBuilder v = new StringBuilder();
        for (int i = 0; i < header.length; i++) {
          int w = Math.max(header[i].length(), 10) + 3;
          Object value = row.fields.get(keys[i]);
          String text = value instanceof Double d ? String.format(Locale.ROOT, "%.3f", d) : String.valueOf(value);
          v.append(String.format(Locale.ROOT, " %-" + w + "s", text));
        }
        width = Math.max(width, v.length());
        lines.add(v.toString().stripTrailing());
      }
      String rule = "-".repeat(width);
      out.println(rule);
      out.println(h.toString().stripTrailing());
      for (String line : lines) {
        out.println(line);
      }
      out.println(rule);
    }
    out.flush();
  }
}
