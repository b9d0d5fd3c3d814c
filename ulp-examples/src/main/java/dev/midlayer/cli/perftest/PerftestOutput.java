package dev.midlayer.cli.perftest;

import java.io.PrintWriter;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One result line of a perftest subcommand, printed as perftest's table or, with {@code --json}, as one
 * JSON object on one line (the keys {@code shared/tools/perf-ratios} reads). Numbers keep six significant
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

  /** Prints the table (header, values, rules) or the JSON line. */
  static void print(PrintWriter out, boolean json, String[] header, String[] keys, PerftestOutput row) {
    if (json) {
      out.println(row.json());
    } else {
      StringBuilder h = new StringBuilder();
      StringBuilder v = new StringBuilder();
      for (int i = 0; i < header.length; i++) {
        int w = Math.max(header[i].length(), 10) + 3;
        h.append(String.format(Locale.ROOT, " %-" + w + "s", header[i]));
        Object value = row.fields.get(keys[i]);
        String text = value instanceof Double d ? String.format(Locale.ROOT, "%.3f", d) : String.valueOf(value);
        v.append(String.format(Locale.ROOT, " %-" + w + "s", text));
      }
      String rule = "-".repeat(Math.max(h.length(), v.length()));
      out.println(rule);
      out.println(h.toString().stripTrailing());
      out.println(v.toString().stripTrailing());
      out.println(rule);
    }
    out.flush();
  }
}
