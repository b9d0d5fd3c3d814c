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

  /** The bandwidth tests' table: MiB/s, or with {@code gbits} Gb/s (the JSON lines then carry both). */
  static Table bwTable(PrintWriter out, boolean json, boolean gbits) {
    if (!gbits) {
      return new Table(out, json,
          new String[] {"#bytes", "#iterations", "BW peak[MiB/sec]", "BW average[MiB/sec]", "MsgRate[Mpps]"},
          new String[] {"bytes", "iterations", "bw_peak_mib_s", "bw_avg_mib_s", "msg_rate_mpps"}, true);
    }
    return new Table(out, json,
        new String[] {"#bytes", "#iterations", "BW peak[Gb/sec]", "BW average[Gb/sec]", "MsgRate[Mpps]"},
        new String[] {"bytes", "iterations", "bw_peak_gb_s", "bw_avg_gb_s", "msg_rate_mpps"}, false);
  }

  /** Prints the rows of a bandwidth test at once (a server printing its client's result). */
  static void printBw(PrintWriter out, boolean json, boolean gbits, java.util.List<PerftestOutput> rows) {
    Table t = bwTable(out, json, gbits);
    rows.forEach(t::row);
    t.end();
  }

  /** Prints the table (header, values, rules) or the JSON line of one row. */
  static void print(PrintWriter out, boolean json, String[] header, String[] keys, PerftestOutput row) {
    print(out, json, header, keys, java.util.List.of(row));
  }

  /** Prints one table with a line per row (header once, as perftest's {@code -a}) or one JSON line per row. */
  static void print(PrintWriter out, boolean json, String[] header, String[] keys,
      java.util.List<PerftestOutput> rows) {
    Table t = new Table(out, json, header, keys, true);
    rows.forEach(t::row);
    t.end();
  }

  /**
   * A result table printed a row at a time, as each size finishes (perftest streams its rows): the rule and
   * the header before the first row, the closing rule at {@link #end}; or one JSON line per row. Flushed after
   * every line, so a script or a terminal sees each row when it is measured. The command's thread only.
   */
  static final class Table {
    private final PrintWriter out;
    private final boolean json;
    private final String[] header;
    private final String[] keys;
    private final boolean mib;
    private int width;
    private int rows;

    Table(PrintWriter out, boolean json, String[] header, String[] keys, boolean mib) {
      this.out = out;
      this.json = json;
      this.header = header;
      this.keys = keys;
      this.mib = mib;
    }

    /** How many rows were printed. */
    int rows() {
      return rows;
    }

    /** Prints {@code row} now (adding the Gb/s keys to a bandwidth row of a Gb/s table). */
    void row(PerftestOutput row) {
      if (!mib && row.fields.containsKey("bw_avg_mib_s") && !row.fields.containsKey("bw_avg_gb_s")) {
        row.put("bw_peak_gb_s", row.get("bw_peak_mib_s") * GBITS_PER_MIB);
        row.put("bw_avg_gb_s", row.get("bw_avg_mib_s") * GBITS_PER_MIB);
      }
      if (json) {
        out.println(row.json());
      } else {
        if (rows == 0) {
          StringBuilder h = new StringBuilder();
          for (String title : header) {
            h.append(String.format(Locale.ROOT, " %-" + (Math.max(title.length(), 10) + 3) + "s", title));
          }
          width = h.length();
          out.println("-".repeat(width));
          out.println(h.toString().stripTrailing());
        }
        StringBuilder v = new StringBuilder();
        for (int i = 0; i < header.length; i++) {
          int w = Math.max(header[i].length(), 10) + 3;
          Object value = row.fields.get(keys[i]);
          String text = value instanceof Double d ? String.format(Locale.ROOT, "%.3f", d) : String.valueOf(value);
          v.append(String.format(Locale.ROOT, " %-" + w + "s", text));
        }
        width = Math.max(width, v.length());
        out.println(v.toString().stripTrailing());
      }
      rows++;
      out.flush();
    }

    /** Closes the table: its closing rule, if it has rows. */
    void end() {
      if (!json && rows > 0) {
        out.println("-".repeat(width));
      }
      out.flush();
    }
  }
}
