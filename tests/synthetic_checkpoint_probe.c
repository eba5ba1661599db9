// Looks at a checkpoint through llama2.c's own code: compiled together with
// run.c (included without its main), it prints "key value" lines with
//  - the byte offset at which run.c maps each weight, and where its mapping
//    ends (the start an unshared classifier would have), to compare with the
//    generator's layout;
//  - statistics of generate()'s sampling at run.c's defaults (temperature 1.0,
//    top-p 0.9): how many candidates top-p passes to qsort, and BOS odds.
// Usage: synthetic_checkpoint_probe CHECKPOINT STEPS
#define TESTING
#include "run.c"

static long long offset_of(const Transformer *t, const float *ptr) {
    return (long long)((const char *)ptr - (const char *)t->data);
}

int main(int argc, char *argv[]) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s CHECKPOINT STEPS\n", argv[0]);
        return EXIT_FAILURE;
    }
    int steps = atoi(argv[2]);
    Transformer t;
    build_transformer(&t, argv[1]);
    TransformerWeights *w = &t.weights;
    printf("file_size %lld\n", (long long)t.file_size);
    printf("token_embedding_table %lld\n", offset_of(&t, w->token_embedding_table));
    printf("rms_att_weight %lld\n", offset_of(&t, w->rms_att_weight));
    printf("wq %lld\n", offset_of(&t, w->wq));
    printf("wk %lld\n", offset_of(&t, w->wk));
    printf("wv %lld\n", offset_of(&t, w->wv));
    printf("wo %lld\n", offset_of(&t, w->wo));
    printf("rms_ffn_weight %lld\n", offset_of(&t, w->rms_ffn_weight));
    printf("w1 %lld\n", offset_of(&t, w->w1));
    printf("w2 %lld\n", offset_of(&t, w->w2));
    printf("w3 %lld\n", offset_of(&t, w->w3));
    printf("rms_final_weight %lld\n", offset_of(&t, w->rms_final_weight));
    printf("wcls %lld\n", offset_of(&t, w->wcls));
    // run.c maps an unshared classifier right after the skipped freq_cis block
    TransformerWeights unshared;
    memory_map_weights(&unshared, &t.config, t.data + sizeof(Config) / sizeof(float), 0);
    printf("weights_end %lld\n", offset_of(&t, unshared.wcls));

    // generate() with an empty prompt: start at BOS, stop when BOS is sampled
    int vocab_size = t.config.vocab_size;
    float topp = 0.9f;
    Sampler sampler;
    build_sampler(&sampler, vocab_size, 1.0f, topp, 42);
    const float cutoff = (1.0f - topp) / (vocab_size - 1);  // as in sample_topp
    int sampled = 0;
    long long total_candidates = 0;
    int max_candidates = 0;
    float max_bos_prob = 0.0f;
    int token = 1;
    int generated = 0;
    for (int pos = 0; pos < steps; pos++) {
        float *logits = forward(&t, token, pos);
        int next = sample(&sampler, logits);  // leaves the probabilities in logits
        sampled++;
        int candidates = 0;
        for (int i = 0; i < vocab_size; i++) {
            candidates += logits[i] >= cutoff;
        }
        total_candidates += candidates;
        if (candidates > max_candidates) max_candidates = candidates;
        if (logits[1] > max_bos_prob) max_bos_prob = logits[1];
        if (next == 1) break;
        generated++;
        token = next;
    }
    printf("steps_generated %d\n", generated);
    printf("mean_candidates %f\n", (double)total_candidates / sampled);
    printf("max_candidates %d\n", max_candidates);
    printf("max_bos_prob %g\n", max_bos_prob);
    free_sampler(&sampler);
    free_transformer(&t);
    return 0;
}
