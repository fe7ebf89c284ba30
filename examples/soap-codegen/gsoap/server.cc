// A gSOAP server of contracts/echo.wsdl and contracts/orders.wsdl, built
// by tests/gsoap.rs with wsdl2h + soapcpp2 + g++ so that the generated
// Rust clients are tested against a SOAP stack nobody here wrote.
//
// Usage: gsoap_server PORT (0 picks one); prints "listening PORT" once
// bound, then serves until killed.

#include "soapH.h"
#include "EchoSoap11.nsmap"

#include <cstdio>
#include <cstdlib>
#include <sstream>
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

int __ns1__echo(struct soap *, _ns1__echo *request, _ns1__echoResponse &response) {
    int times = request->times ? *request->times : 1;
    response.text.clear();
    for (int i = 0; i < times && i < 16; i++) response.text += request->text;
    return SOAP_OK;
}

int __ns1__echo_(struct soap *soap, _ns1__echo *request, _ns1__echoResponse &response) {
    return __ns1__echo(soap, request, response);
}

static const char *status_name(enum ns2__Status status) {
    switch (status) {
    case ns2__Status__pending: return "pending";
    case ns2__Status__shipped: return "shipped";
    default: return "on-hold";
    }
}

int __ns2__placeOrder(struct soap *soap, _ns2__placeOrder *order, _ns2__placeOrderResponse &response) {
    _ns2__orderRejected *rejected = nullptr;
    double total = 0;
    std::ostringstream summary;
    summary << "gsoap: " << order->customer->name << " (" << order->customer->id << ") of "
            << order->customer->address->city << ";";
    for (ns2__Line *line : order->line) {
        if (line->sku == "gone") {
            if (!rejected) {
                rejected = soap_new__ns2__orderRejected(soap);
                rejected->code = 409;
            }
            rejected->sku.push_back(line->sku);
        }
        total += line->quantity * std::atof(line->unitPrice.c_str());
        summary << " " << line->lineNo << ":" << line->sku << "x" << line->quantity << "@"
                << line->unitPrice << "/" << (line->note ? *line->note : std::string("nil"));
    }
    switch (order->__union_placeOrder) {
    case SOAP_UNION__ns2__union_placeOrder_card:
        summary << "; card " << order->union_placeOrder.card->holder;
        break;
    case SOAP_UNION__ns2__union_placeOrder_iban:
        summary << "; iban " << *order->union_placeOrder.iban;
        break;
    case SOAP_UNION__ns2__union_placeOrder_voucher:
        summary << "; voucher " << order->union_placeOrder.voucher->__size << " bytes";
        break;
    default:
        summary << "; no payment";
    }
    summary << "; " << status_name(order->status);
    if (order->express) summary << "; express " << (*order->express ? "yes" : "no");
    for (ns2__Category *c = order->category; c; c = c->parent) summary << "; in " << c->name;
    summary << "; weight " << order->weight << "; tags " << order->tag.size();
    if (rejected) {
        soap_receiver_fault(soap, "out of stock", nullptr);
        if (!soap->fault->detail) soap->fault->detail = soap_new_SOAP_ENV__Detail(soap);
        soap->fault->detail->ns2__orderRejected = rejected;
        return SOAP_FAULT;
    }
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.2f", total);
    response.orderId = order->orderId;
    response.status = order->status;
    response.total = buffer;
    response.lines = static_cast<unsigned int>(order->line.size());
    response.summary = summary.str();
    return SOAP_OK;
}

// contracts/calculator.wsdl (rpc/literal). gSOAP answers a one-way
// operation with 202 Accepted once its function returns.
static std::string last_note;

int ns3__add(struct soap *soap, int a, int b, struct ns3__addResponse &response) {
    long long sum = static_cast<long long>(a) + b;
    if (sum > 2147483647LL || sum < -2147483648LL)
        return soap_sender_fault(soap, "gsoap: the sum overflows xs:int", nullptr);
    response.sum = static_cast<int>(sum);
    return SOAP_OK;
}

int ns3__norm(struct soap *, ns3__Point *point, struct ns3__normResponse &response) {
    response.manhattan = std::llabs(point->x) + std::llabs(point->y);
    return SOAP_OK;
}

int ns3__record(struct soap *soap, std::string note) {
    last_note = note;
    return soap_send_empty_response(soap, SOAP_OK);
}

int ns3__lastNote(struct soap *, struct ns3__lastNoteResponse &response) {
    response.note = last_note;
    return SOAP_OK;
}
