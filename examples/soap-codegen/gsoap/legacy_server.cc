// A gSOAP server of contracts/legacy.wsdl (rpc/encoded, SOAP 1.1 section
// 5, with SOAP-encoded arrays), built by tests/gsoap_encoded.rs with
// wsdl2h + soapcpp2 + g++ so that the generated Rust rpc/encoded client
// is tested against a SOAP stack nobody here wrote.
//
// Usage: gsoap_legacy_server PORT (0 picks one); prints "listening PORT"
// once bound, then serves until killed.

#include "soapH.h"
#include "LegacySoap11.nsmap"

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char **argv) {
    int port = argc > 1 ? std::atoi(argv[1]) : 0;
    struct soap *soap = soap_new1(SOAP_C_UTFSTRING);
    soap->bind_flags = SO_REUSEADDR;
    if (!soap_valid_socket(soap_bind(soap, "127.0.0.1", port, 16))) {
        soap_print_fault(soap, stderr);
        return 1;
    }
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    getsockname(soap->master, (struct sockaddr *)&addr, &len);
    std::printf("listening %d\n", ntohs(addr.sin_port));
    std::fflush(stdout);
    for (;;) {
        if (!soap_valid_socket(soap_accept(soap))) {
            soap_print_fault(soap, stderr);
            break;
        }
        soap_serve(soap);
        soap_destroy(soap);
        soap_end(soap);
    }
    soap_free(soap);
    return 0;
}

int ns1__add(struct soap *soap, int a, int b, int &sum) {
    long long total = (long long)a + b;
    if (total > 2147483647LL || total < -2147483648LL)
        return soap_sender_fault(soap, "gsoap: the sum overflows xsd:int", nullptr);
    sum = (int)total;
    return SOAP_OK;
}

int ns1__describe(struct soap *, ns1__Person *person, std::string &summary) {
    if (!person) {
        summary = "gsoap: nobody";
        return SOAP_OK;
    }
    summary = "gsoap: " + person->name + " (" + std::to_string(person->age) + "), " +
              (person->email ? *person->email : std::string("no email"));
    return SOAP_OK;
}

// total: the sum of numbers; labelled: "label=number" for each pair.
int ns1__stats(struct soap *soap, ArrayOfInt *numbers, ArrayOfString *labels,
               struct ns1__statsResponse &response) {
    int count = numbers ? numbers->__size : 0;
    int named = labels ? labels->__size : 0;
    int pairs = count < named ? count : named;
    response.total = 0;
    for (int i = 0; i < count; i++) response.total += numbers->__ptr[i];
    response.labelled = soap_new_ArrayOfString(soap);
    response.labelled->__size = pairs;
    response.labelled->__ptr = pairs ? soap_new_std__string(soap, pairs) : nullptr;
    for (int i = 0; i < pairs; i++)
        response.labelled->__ptr[i] = labels->__ptr[i] + "=" + std::to_string(numbers->__ptr[i]);
    return SOAP_OK;
}

// names: everyone's name; adults: those aged 18 or over; oldest: the
// oldest adult, the same object as its entry in adults, so that gSOAP
// sends it once with an id and refers to it by href (multi-reference).
int ns1__roster(struct soap *soap, ArrayOfPerson *people, struct ns1__rosterResponse &response) {
    int count = people ? people->__size : 0;
    response.names = soap_new_ArrayOfString(soap);
    response.names->__size = count;
    response.names->__ptr = count ? soap_new_std__string(soap, count) : nullptr;
    response.adults = soap_new_ArrayOfPerson(soap);
    response.adults->__size = 0;
    response.adults->__ptr = count ? (ns1__Person **)soap_malloc(soap, count * sizeof(ns1__Person *)) : nullptr;
    response.oldest = nullptr;
    for (int i = 0; i < count; i++) {
        ns1__Person *person = people->__ptr[i];
        if (!person) continue;
        response.names->__ptr[i] = person->name;
        if (person->age >= 18) {
            response.adults->__ptr[response.adults->__size++] = person;
            if (!response.oldest || person->age > response.oldest->age) response.oldest = person;
        }
    }
    return SOAP_OK;
}

// lineup: the team named "… (by age)", its members sorted by age (a
// stable insertion sort), its scores reversed (nil stays nil).
int ns1__lineup(struct soap *soap, ns1__Team *team, struct ns1__lineupResponse &response) {
    ns1__Team *lineup = soap_new_ns1__Team(soap);
    response.lineup = lineup;
    if (!team) return soap_sender_fault(soap, "gsoap: no team", nullptr);
    lineup->name = team->name + " (by age)";
    lineup->members = soap_new_ArrayOfPerson(soap);
    int count = team->members ? team->members->__size : 0;
    lineup->members->__size = count;
    lineup->members->__ptr = count ? (ns1__Person **)soap_malloc(soap, count * sizeof(ns1__Person *)) : nullptr;
    for (int i = 0; i < count; i++) {
        ns1__Person *person = team->members->__ptr[i];
        int j = i;
        while (j > 0 && lineup->members->__ptr[j - 1]->age > person->age) {
            lineup->members->__ptr[j] = lineup->members->__ptr[j - 1];
            j--;
        }
        lineup->members->__ptr[j] = person;
    }
    lineup->scores = nullptr;
    if (team->scores) {
        int n = team->scores->__size;
        lineup->scores = soap_new_ArrayOfInt(soap);
        lineup->scores->__size = n;
        lineup->scores->__ptr = n ? (int *)soap_malloc(soap, n * sizeof(int)) : nullptr;
        for (int i = 0; i < n; i++) lineup->scores->__ptr[i] = team->scores->__ptr[n - 1 - i];
    }
    return SOAP_OK;
}
