/* Compiles tvc.h on its own as strict C99: the FFmpeg wrapper is C. */
#include "tvc/tvc.h"

int tvc_header_check(void);

int tvc_header_check(void) {
    TvcEncoderSettings es;
    TvcDecoderSettings ds;
    TvcPicture pic;
    TvcPacket pkt;
    TvcEncoder *enc = NULL;
    TvcDecoder *dec = NULL;
    (void)es; (void)ds; (void)pic; (void)pkt; (void)enc; (void)dec;
    return TVC_EAGAIN + TVC_EOF + (int)sizeof(TvcVideoInfo);
}
