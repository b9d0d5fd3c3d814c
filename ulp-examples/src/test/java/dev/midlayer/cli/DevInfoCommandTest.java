package dev.midlayer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.testkit.MidlayerExtension;
import dev.midlayer.testkit.MidlayerTestKit;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import picocli.CommandLine;

@ExtendWith(MidlayerExtension.class)
class DevInfoCommandTest {

  @Test
  void devinfoPrintsWhatTheMidlayerReportsForEachPort(MidlayerTestKit kit) throws Exception {
    LoopbackDevice lo = kit.addDevice("di%d", 2);
    lo.linkDown(2);
    StringWriter text = new StringWriter();
    DevInfoCommand.print(new PrintWriter(text), lo.device(), 0, true, true);
    String s = text.toString();
    assertTrue(s.startsWith("hca_id:\tdi0"), s);
    assertTrue(s.contains("phys_port_cnt:\t\t\t2"), s);
    assertTrue(s.contains("state:\t\t\tPORT_DOWN (1)"), s);
    assertTrue(s.contains("port_lid:\t\t" + lo.lid(2)), s);
    assertTrue(s.contains("GID[  0]:\t\t" + lo.gid(1)), s);
    assertTrue(s.contains("max_qp:\t\t\t\t65536"), s);
    assertTrue(s.contains("max_msg_sz:\t\t0x800000"), s);
    assertTrue(s.contains("gid_tbl_len:\t\t1"), s);
    kit.removeDevice(lo);
  }

  @Test
  void listPrintsTheNamesAsIbvDevinfoDoes() {
    Run r = run("--devices", "3", "-l");
    assertEquals(0, r.exit, r.err);
    assertEquals("3 HCAs found:\n\tlo0\n\tlo1\n\tlo2\n", r.out.replace(System.lineSeparator(), "\n"));
  }

  @Test
  void oneDeviceAndOnePortWithoutGidsUnlessVerbose() {
    Run r = run("--devices", "2", "-p", "2", "-d", "lo1", "-i", "2");
    assertEquals(0, r.exit, r.err);
    assertTrue(r.out.startsWith("hca_id:\tlo1"), r.out);
    assertFalse(r.out.contains("lo0"), r.out);
    assertTrue(r.out.contains("port:\t2") && !r.out.contains("port:\t1"), r.out);
    assertFalse(r.out.contains("GID["), "GIDs only with -v: " + r.out);
    assertFalse(r.out.contains("max_qp"), r.out);
    Run v = run("--devices", "1", "-v");
    assertTrue(v.out.contains("GID[  0]:") && v.out.contains("max_qp:"), v.out);
  }

  @Test
  void noDeviceFailsAsIbvDevinfoDoes() {
    Run r = run("--devices", "0");
    assertEquals(1, r.exit);
    assertEquals("No IB devices found", r.err.strip());
    assertEquals("", r.out);
  }

  private record Run(int exit, String out, String err) {}

  private static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = MidlayerCli.commandLine();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    int exit = cmd.execute(prepend("devinfo", args));
    return new Run(exit, out.toString(), err.toString());
  }

  private static String[] prepend(String first, String[] rest) {
    String[] all = new String[rest.length + 1];
    all[0] = first;
    System.arraycopy(rest, 0, all, 1, rest.length);
    return all;
  }
}
