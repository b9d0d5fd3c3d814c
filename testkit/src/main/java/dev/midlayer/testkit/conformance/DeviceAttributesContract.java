package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.device.Device;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.PortAttributes;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The sanity checks rdma-core's tests make of {@code ibv_query_device} and {@code ibv_query_port}: a non-zero
 * vendor id, maximum values that are positive and consistent with each other, sane port attributes, and GIDs
 * unique across the devices and ports of the driver.
 *
 * <p>Seed rules: C4 (queryDevice and queryPort may sleep: called from the test thread), C11 (a device is
 * announced only once initialised: its attributes and port cache are there when {@code addDevice} returns).
 * IB spec: IBA vol. 1 §11.2.1 (query HCA attributes), §11.2.2 (query port), §4.1 (GIDs).
 */
public abstract class DeviceAttributesContract extends DriverContract {
  @Test
  @DisplayName("device attributes: non-zero vendor id and node GUID, every maximum positive and consistent")
  void deviceAttributesAreSane() throws Exception {
    Device d = f.addDevice(2);
    DeviceAttributes a = await(d.queryDevice());
    assertEquals(a, d.attributes(), "the cached attributes are what queryDevice reports");
    assertNotEquals(0, a.vendorId(), "vendor id");
    assertNotEquals(0L, a.nodeGuid(), "node GUID");
    assertEquals(2, a.physPortCount());
    assertTrue(a.maxQp() > 0 && a.maxQpWr() > 0 && a.maxSge() > 0, a::toString);
    assertTrue(a.maxCq() > 0 && a.maxCqe() > 0 && a.maxMr() > 0 && a.maxPd() > 0, a::toString);
    assertTrue(a.maxMrSize() > 0 && a.pageSizeCap() > 0, a::toString);
    assertTrue(a.maxQpRdAtom() >= 0 && a.maxQpInitRdAtom() >= 0, a::toString);
    assertTrue(a.maxSrq() == 0 || (a.maxSrqWr() > 0 && a.maxSrqSge() > 0), "an SRQ has room: " + a);
    assertTrue(a.maxSrqWr() <= a.maxQpWr() || a.maxSrq() == 0, "SRQ WRs within QP WRs: " + a);
    assertTrue(a.maxAh() >= 0 && a.maxFmr() >= 0 && a.maxInlineData() >= 0, a::toString);
    assertTrue(a.maxFmr() == 0 || a.maxMapPerFmr() > 0, "a mappable FMR: " + a);
  }

  @Test
  @DisplayName("port attributes: a LID on an InfiniBand port, active MTU within max, positive max message, a GID, "
      + "as cached and as queried")
  void portAttributesAreSane() throws Exception {
    Device d = f.addDevice(2);
    for (int p = 1; p <= d.portCount(); p++) {
      PortAttributes q = await(d.queryPort(p));
      PortAttributes c = d.cachedPort(p);
      String what = d.name() + " port " + p + ": " + q;
      assertEquals(q, c, what + " (the cache)");
      assertTrue(q.activeMtu().bytes() <= q.maxMtu().bytes(), what);
      assertTrue(q.maxMsgSize() > 0, what);
      assertTrue(q.pkeyTableLength() > 0, what);
      assertTrue(!q.gids().isEmpty(), what);
      if (q.linkLayer() == dev.midlayer.ib.LinkLayer.INFINIBAND) {
        assertTrue(q.lid() > 0 && q.lid() < 0xC000, "a unicast LID: " + what);
      }
    }
  }

  @Test
  @DisplayName("GIDs and LIDs are unique across the driver's devices and ports")
  void gidsAreUniqueAcrossDevicesAndPorts() throws Exception {
    List<Device> devices = List.of(f.addDevice(2), f.addDevice(1), f.addDevice(3));
    Map<Gid, String> gids = new HashMap<>();
    Map<Integer, String> lids = new HashMap<>();
    for (Device d : devices) {
      for (int p = 1; p <= d.portCount(); p++) {
        String port = d.name() + " port " + p;
        Gid g = d.cachedPort(p).gids().get(0);
        String owner = gids.putIfAbsent(g, port);
        assertEquals(null, owner, port + " has the GID " + g + " of " + owner);
        if (d.cachedPort(p).linkLayer() == dev.midlayer.ib.LinkLayer.INFINIBAND) {
          String lidOwner = lids.putIfAbsent(d.cachedPort(p).lid(), port);
          assertEquals(null, lidOwner, port + " has the LID of " + lidOwner);
        }
      }
    }
  }
}
