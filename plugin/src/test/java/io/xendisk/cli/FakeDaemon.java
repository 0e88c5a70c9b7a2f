package io.xendisk.cli;

import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;

/** A daemon for tests of CLI-side verbs: records each request and answers as told (OK by default). */
public final class FakeDaemon implements DaemonLink {
    public final List<ControlRequest> requests = new ArrayList<>();
    private Function<ControlRequest, ControlResponse> answer = r -> ControlResponse.ok(r.verb() + " done\n");
    private boolean running = true;

    public FakeDaemon answering(Function<ControlRequest, ControlResponse> answer) {
        this.answer = answer;
        return this;
    }

    /** No daemon runs: send would start one, sendIfRunning finds none. */
    public FakeDaemon notRunning() {
        running = false;
        return this;
    }

    @Override
    public ControlResponse send(ControlRequest request) {
        running = true;
        requests.add(request);
        return answer.apply(request);
    }

    @Override
    public Optional<ControlResponse> sendIfRunning(ControlRequest request) {
        if (!running) {
            return Optional.empty();
        }
        requests.add(request);
        return Optional.of(answer.apply(request));
    }

    /** "connect vm1 path=/a storage=cow vdev=xvdb" (options sorted), for compact assertions. */
    public List<String> summary() {
        List<String> out = new ArrayList<>();
        for (ControlRequest r : requests) {
            StringBuilder sb = new StringBuilder(r.verb());
            r.args().forEach(a -> sb.append(' ').append(a));
            new TreeMap<>(r.options()).forEach((k, v) -> sb.append(' ').append(k).append('=').append(v));
            out.add(sb.toString());
        }
        return out;
    }
}
