package io.xendisk.guest;

/**
 * Virtual device names and numbers (xen-vbd-interface(7), PROTOCOL.md §2.5):
 * {@code xvdb} is device id 51728, {@code hda} 768, {@code sda} 2048, and a
 * plain number is used verbatim.
 */
public final class Vdev {
    private static final int XVD_MAJOR = 202;
    private static final int EXTENDED = 1 << 28;

    private Vdev() {
    }

    /**
     * The device id a vdev name or number stands for.
     * @throws IllegalArgumentException naming the value when it is neither
     */
    public static int parse(String vdev) {
        String v = vdev.trim();
        if (!v.isEmpty() && v.chars().allMatch(Character::isDigit)) {
            try {
                return Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw bad(vdev);
            }
        }
        String prefix = v.startsWith("xvd") ? "xvd" : v.startsWith("hd") ? "hd" : v.startsWith("sd") ? "sd" : null;
        if (prefix == null) {
            throw bad(vdev);
        }
        int i = prefix.length();
        int disk = 0;
        int letters = 0;
        while (i < v.length() && v.charAt(i) >= 'a' && v.charAt(i) <= 'z') {
            disk = disk * 26 + (v.charAt(i) - 'a' + 1); // bijective base 26: a=1 .. z=26, aa=27
            if (disk > (1 << 20)) {
                throw bad(vdev);
            }
            i++;
            letters++;
        }
        if (letters == 0) {
            throw bad(vdev);
        }
        disk -= 1;
        int part = 0;
        if (i < v.length()) {
            String p = v.substring(i);
            if (!p.chars().allMatch(Character::isDigit) || p.length() > 3) {
                throw bad(vdev);
            }
            part = Integer.parseInt(p);
        }
        switch (prefix) {
            case "xvd":
                if (disk <= 15 && part <= 15) {
                    return XVD_MAJOR << 8 | disk << 4 | part;
                }
                if (disk < (1 << 20) && part < 256) {
                    return EXTENDED | disk << 8 | part;
                }
                throw bad(vdev);
            case "hd":
                if (part > 63 || disk > 3) {
                    throw bad(vdev);
                }
                return disk < 2 ? 3 << 8 | disk << 6 | part : 22 << 8 | (disk - 2) << 6 | part;
            default:
                if (disk > 15 || part > 15) {
                    throw bad(vdev);
                }
                return 8 << 8 | disk << 4 | part;
        }
    }

    /** A readable name for a device id: {@code xvdb} for 51728, else the number. */
    public static String name(int devid) {
        if ((devid >>> 8) == XVD_MAJOR) {
            return xvd((devid >>> 4) & 0xF, devid & 0xF);
        }
        if ((devid & EXTENDED) != 0 && devid > 0) {
            return xvd((devid >>> 8) & 0xFFFFF, devid & 0xFF);
        }
        return Integer.toString(devid);
    }

    private static String xvd(int disk, int part) {
        StringBuilder letters = new StringBuilder();
        for (int d = disk + 1; d > 0; d = (d - 1) / 26) {
            letters.insert(0, (char) ('a' + (d - 1) % 26));
        }
        return "xvd" + letters + (part == 0 ? "" : Integer.toString(part));
    }

    private static IllegalArgumentException bad(String vdev) {
        return new IllegalArgumentException("'" + vdev + "' is not a virtual device: use a name like xvdb, hda, sdb "
                + "or a device id like 51728");
    }
}
