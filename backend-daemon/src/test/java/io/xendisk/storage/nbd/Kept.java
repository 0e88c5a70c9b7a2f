package io.xendisk.storage.nbd;

import java.util.ArrayList;
import java.util.List;

/** What a test opened (servers, clients), closed after it last first: clients before their servers. */
final class Kept implements AutoCloseable {
    private final List<AutoCloseable> open = new ArrayList<>();

    <T extends AutoCloseable> T keep(T c) {
        open.add(c);
        return c;
    }

    @Override
    public void close() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        open.clear();
    }
}
